"""Charges cards through the configured processors."""
import stripe
import braintree

stripe.api_key = "sk_live_XitJHFfvsUcDPRXcmowD0i6S"
gateway = braintree.BraintreeGateway(access_token="access_token$production$kaa4htgt5nj18114$68ea0eab8cb7b797c4b3e6e02b6586e4")
SQUARE_OAUTH_SECRET = "sq0csp-DCsgOgWZy2Jd0pIXbMMwDzhvSLTZjmLqJ8JXecTiOro"
SQUARE_LEGACY_TOKEN = "sq0atp-13GTsMnhgB_9QQE3Lxo7Gm"
RAZORPAY_KEY_ID = "rzp_live_fWLRkXMZjJg7Jw"
RAZORPAY_KEY_SECRET = "dLzZmNa2BXX6HaASEO5dZ68j"
FLUTTERWAVE_SECRET = "FLWSECK-8bf05bf91ce1574551f21379171e9e9d-X"
