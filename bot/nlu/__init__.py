"""Touchline's NLU components for Rasa 3.6 (graph components used from ``config.yml``).

- :mod:`bot.nlu.featurizer`: ``SentenceEmbeddingFeaturizer`` (sentence-transformers, offline).
- :mod:`bot.nlu.classifier`: ``IntentClassifier`` (calibrated linear model, out-of-scope threshold).
- :mod:`bot.nlu.vocabulary`: exports brands, categories, colours and kickers to `data/entities`.
- :mod:`bot.nlu.spacy_build`: builds the blank English spaCy pipeline with an EntityRuler from
  those files and `data/nlu`.
"""
