package limits

import "testing"

func TestMaskName(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"王小明", "王○明"},
		{"李四", "李○"},
		{"歐陽小明", "歐○○明"},
		{"歐陽建堃", "歐○○堃"}, // 堃 prints as ？ later, on encoding
		{"林", "林"},
		{"", ""},
		{"  王小明 ", "王○明"},
		{"JOHN SMITH", "J*** ****H"},
		{"Li Na", "L* *a"},
		{"瓦歷斯．諾幹", "瓦○○．○幹"},
		{"Kolas Yotaka", "K**** *****a"},
		{"陳Mary", "陳***y"},
		{"A-B", "A-*"}, // two characters: the first stays
	} {
		if got := MaskName(c.in); got != c.want {
			t.Errorf("MaskName(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
