package webhook

// maskPhone hides all but the last four digits of a phone number, for logs:
// "+14155551234" becomes "***1234". A value with four digits or fewer
// becomes "***", and "" stays "".
func maskPhone(number string) string {
	if number == "" {
		return ""
	}
	var last [4]byte
	n := 0
	for i := len(number) - 1; i >= 0 && n < len(last); i-- {
		if c := number[i]; c >= '0' && c <= '9' {
			n++
			last[len(last)-n] = c
		}
	}
	digits := 0
	for i := 0; i < len(number); i++ {
		if c := number[i]; c >= '0' && c <= '9' {
			digits++
		}
	}
	if digits <= len(last) {
		return "***"
	}
	return "***" + string(last[:])
}
