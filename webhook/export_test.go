package webhook

// MaskPhone exposes maskPhone to the external tests.
var MaskPhone = maskPhone
