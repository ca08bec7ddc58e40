"""Rugby kick predictor: success probability of a place kick from anywhere on the pitch
(simulated data; see ``bot/kicks/README.md``)."""
