package wasmclient

// PendingAcks is the number of acknowledgements s awaits, for tests.
func PendingAcks(s *Socket) int { return s.pendingAcks() }

// SetUpgradeGate makes m's upgrades wait for gate to return before they
// start, for tests.
func SetUpgradeGate(m *Manager, gate func()) { m.upgradeGate = gate }
