package wasmclient

// PendingAcks is the number of acknowledgements s awaits, for tests.
func PendingAcks(s *Socket) int { return s.pendingAcks() }
