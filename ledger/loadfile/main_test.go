package loadfile_test

import (
	"testing"

	"github.com/bli/atmgw/internal/leaktest"
)

func TestMain(m *testing.M) { leaktest.Main(m) }
