"""The support staff's side of Touchline: what customers ask and how to teach the bot.

- :mod:`bot.staff.discover`: groups the messages the bot could not answer into proposed new
  intents (embedding + agglomerative clustering, suggested names, trends).
- :mod:`bot.staff.analytics`: conversation figures (containment, fallback, handoff, agent
  reply time, ratings) over conversation events from any source.
"""
