package benchcli

import "testing"

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		bad  bool
	}{
		{in: "1", want: 1},
		{in: "3K", want: 3 << 10},
		{in: "200M", want: 200 << 20},
		{in: "2G", want: 2 << 30},
		{in: "", bad: true},
		{in: "0", bad: true},
		{in: "-5M", bad: true},
		{in: "5T", bad: true},
		{in: "M", bad: true},
	} {
		got, err := ParseSize(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("ParseSize(%q) = %d, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}
