"""Who the customer is: identity tokens the shop signs, and what a channel does with them.

* :mod:`bot.identity.tokens`: mint and verify the shop's short-lived identity tokens (JWT);
* :mod:`bot.identity.revocation`: whether the shop revoked a sign-in (its logout);
* :mod:`bot.identity.phone`: a phone caller is a customer only with a registered number
  and its PIN;
* :mod:`bot.identity.metadata`: the verified customer a channel writes into a message's
  metadata, and how actions read it back.
"""
