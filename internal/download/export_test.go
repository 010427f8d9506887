package download

// PureGo returns req set to decode with the Go decoders only, so tests
// cover them on hosts that have xz and bzip2 installed.
func PureGo(req Request) Request {
	req.pureGo = true
	return req
}
