//go:build !unix

package testenv

import "errors"

func rusagePeak() (int64, error) {
	return 0, errors.New("peak memory is not measured on this system")
}
