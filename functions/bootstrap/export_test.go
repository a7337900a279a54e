package bootstrap

import (
	"context"
	"log/slog"
)

// NewAccountNamesForTest exposes the account-name cache to the
// integration tests.
func NewAccountNamesForTest(api DescribeAccountAPI) interface {
	AccountName(ctx context.Context, account string) string
} {
	return newAccountNames(api, slog.New(slog.DiscardHandler))
}
