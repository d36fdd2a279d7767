package payments

import "github.com/stripe/stripe-go/v79"

func init() {
	stripe.Key = "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"
}
