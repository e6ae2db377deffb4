package privacy

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"
)

var (
	releaseIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
	sha256HexRE = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// ValidateReleaseID checks that id can name a release (and its release store
// folder): 1 to 128 characters from A-Z a-z 0-9 . _ -, starting with a letter
// or digit. It is the one release id rule: the ledger, Run and the
// --release-id flags all apply it. The error states the rule; callers name
// the id.
func ValidateReleaseID(id string) error {
	if !releaseIDRE.MatchString(id) {
		return errors.New("must be 1-128 characters from A-Z a-z 0-9 . _ - starting with a letter or digit")
	}
	return nil
}

func validateDataset(d string) error {
	if d == "" || len(d) > 200 || strings.TrimSpace(d) != d {
		return fmt.Errorf("dataset %q: must be 1-200 characters without leading or trailing space", d)
	}
	for _, r := range d {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("dataset %q: must not contain control characters", d)
		}
	}
	return nil
}

func budgetEpsilon(x float64) (Amount, error) {
	a, err := AmountFromFloat(x)
	if err != nil {
		return a, err
	}
	if a.IsZero() {
		return a, fmt.Errorf("%v: must be > 0", x)
	}
	return a, nil
}

func budgetDelta(x float64) (Amount, error) {
	a, err := AmountFromFloat(x)
	if err != nil {
		return a, err
	}
	if x >= 1 {
		return a, fmt.Errorf("%v: must be < 1", x)
	}
	return a, nil
}

func requestAmounts(epsilon, delta float64) (eps, del Amount, err error) {
	if eps, err = budgetEpsilon(epsilon); err != nil {
		return eps, del, fmt.Errorf("epsilon: %w", err)
	}
	if del, err = budgetDelta(delta); err != nil {
		return eps, del, fmt.Errorf("delta: %w", err)
	}
	return eps, del, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
