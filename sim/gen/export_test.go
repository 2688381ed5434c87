package gen

// Checks of what the generator makes, for the tests.

// ValidNationalID reports whether id is a well-formed national ID with a
// correct check digit.
func ValidNationalID(id string) bool {
	if len(id) != 10 || id[0] < 'A' || id[0] > 'Z' || (id[1] != '1' && id[1] != '2') {
		return false
	}
	for i := 1; i < 10; i++ {
		if id[i] < '0' || id[i] > '9' {
			return false
		}
	}
	return idCheckDigit([]byte(id)) == int(id[9]-'0')
}

// LuhnValid reports whether a number passes the Luhn check.
func LuhnValid(number string) bool {
	if len(number) < 2 {
		return false
	}
	return luhnDigit(number[:len(number)-1]) == int(number[len(number)-1]-'0')
}
