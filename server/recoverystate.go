package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// EnvRecoveryFile names the file in which a server with connection state
// recovery on keeps its recovery state across a restart, when set: New
// restores from it (and removes it), Shutdown writes it. The devserver
// sets it for its -run child, in a folder of its own, so that open pages
// recover across a restart; a production server does not set it.
const EnvRecoveryFile = "TSUNAGI_RECOVERY_FILE"

// recoveryVersion is the version of the format SaveRecovery writes.
const recoveryVersion = 1

// ErrRecoveryOff is what SaveRecovery and RestoreRecovery return on a
// server whose Options.Recovery is off.
var ErrRecoveryOff = errors.New("tsunagi: connection state recovery is off (Options.Recovery.MaxDisconnectionDuration is 0)")

// The saved form of the recovery state: JSON, one entry per namespace.
type savedRecovery struct {
	Version    int              `json:"version"`
	Namespaces []savedNamespace `json:"namespaces"`
}

type savedNamespace struct {
	Name     string         `json:"name"`
	Prefix   string         `json:"prefix"`
	Seq      uint64         `json:"seq"`
	Packets  []savedPacket  `json:"packets"`
	Sessions []savedSession `json:"sessions"`
}

type savedPacket struct {
	Offset     string    `json:"offset"`
	At         time.Time `json:"at"`
	Rooms      []string  `json:"rooms,omitempty"`
	Except     []string  `json:"except,omitempty"`
	Volatile   bool      `json:"volatile,omitempty"`
	NoCompress bool      `json:"noCompress,omitempty"`
	Local      bool      `json:"local,omitempty"`
	Text       string    `json:"text"`              // the packet's text message
	Buffers    [][]byte  `json:"buffers,omitempty"` // its binary attachments
}

type savedSession struct {
	ID    string    `json:"id"`
	PID   string    `json:"pid"`
	Rooms []string  `json:"rooms,omitempty"`
	At    time.Time `json:"at"`
}

// recoveryState is a namespace's restored state, until the namespace
// exists (a namespace that Of or a dynamic namespace creates later).
type recoveryState struct {
	prefix   string
	seq      uint64
	packets  []storedPacket
	sessions map[string]*session
}

// SaveRecovery writes the connection state recovery state of every
// namespace (the sessions of the sockets that disconnected, by private id,
// with their ids and rooms; the broadcasts of the last
// MaxDisconnectionDuration, with their offsets) to w, as versioned JSON
// that RestoreRecovery reads. A socket's Data is not saved: a recovered
// socket gets it back from the same server only. SaveRecovery returns
// ErrRecoveryOff when recovery is off.
func (s *Server) SaveRecovery(w io.Writer) error {
	if s.opts.Recovery.MaxDisconnectionDuration <= 0 {
		return ErrRecoveryOff
	}
	now := time.Now()
	s.mu.Lock()
	nsps := make([]*Namespace, 0, len(s.nsps))
	for _, ns := range s.nsps {
		nsps = append(nsps, ns)
	}
	out := savedRecovery{Version: recoveryVersion}
	for name, st := range s.pendingRec { // restored, not created since
		out.Namespaces = append(out.Namespaces, saveState(name, st, s.opts.Recovery.MaxDisconnectionDuration, now))
	}
	s.mu.Unlock()
	for _, ns := range nsps {
		r := ns.rec
		if r == nil {
			continue
		}
		r.mu.Lock()
		r.prune(now)
		st := &recoveryState{prefix: r.prefix, seq: r.seq, packets: r.packets, sessions: r.sessions}
		out.Namespaces = append(out.Namespaces, saveState(ns.name, st, r.max, now))
		r.mu.Unlock()
	}
	sort.Slice(out.Namespaces, func(i, j int) bool { return out.Namespaces[i].Name < out.Namespaces[j].Name })
	b, err := json.Marshal(out)
	if err != nil {
		return fmt.Errorf("tsunagi: save the recovery state: %w", err)
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("tsunagi: save the recovery state: %w", err)
	}
	return nil
}

// saveState is the saved form of st, without what expired by now.
func saveState(name string, st *recoveryState, max time.Duration, now time.Time) savedNamespace {
	sn := savedNamespace{Name: name, Prefix: st.prefix, Seq: st.seq, Packets: []savedPacket{}, Sessions: []savedSession{}}
	for _, p := range st.packets {
		if now.Sub(p.at) > max || len(p.frames) == 0 {
			continue
		}
		sp := savedPacket{Offset: p.offset, At: p.at, Rooms: p.opts.Rooms, Except: p.opts.Except,
			Volatile: p.opts.Flags.Volatile, NoCompress: p.opts.Flags.NoCompress, Local: p.opts.Flags.Local,
			Text: string(p.frames[0].data)}
		for _, f := range p.frames[1:] {
			sp.Buffers = append(sp.Buffers, f.data)
		}
		sn.Packets = append(sn.Packets, sp)
	}
	for _, se := range st.sessions {
		if now.Sub(se.at) > max {
			continue
		}
		sn.Sessions = append(sn.Sessions, savedSession{ID: se.id, PID: se.pid, Rooms: se.rooms, At: se.at})
	}
	sort.Slice(sn.Sessions, func(i, j int) bool { return sn.Sessions[i].PID < sn.Sessions[j].PID })
	return sn
}

// RestoreRecovery reads the state SaveRecovery wrote, and replaces the
// recovery state of each namespace it names with it: a client whose
// session it holds then recovers here as it would have on the server that
// saved it (same id, same rooms, every event it missed), its Data aside,
// which is not saved. What is older than MaxDisconnectionDuration is
// dropped. A namespace that does not exist yet gets its state when Of or
// a dynamic namespace creates it. Call it before the server serves
// clients. Input that is not such a state (another version, truncated,
// inconsistent) is an error, and nothing is restored; the input should
// still be trusted, as its events are sent to clients as they are.
// RestoreRecovery returns ErrRecoveryOff when recovery is off.
func (s *Server) RestoreRecovery(r io.Reader) error {
	max := s.opts.Recovery.MaxDisconnectionDuration
	if max <= 0 {
		return ErrRecoveryOff
	}
	states, err := decodeRecovery(r, max, time.Now())
	if err != nil {
		return err
	}
	set := map[*recovery]*recoveryState{}
	s.mu.Lock()
	for name, st := range states {
		if ns := s.nsps[name]; ns != nil && ns.rec != nil {
			set[ns.rec] = st
			continue
		}
		if s.pendingRec == nil {
			s.pendingRec = map[string]*recoveryState{}
		}
		s.pendingRec[name] = st
	}
	s.mu.Unlock()
	for r, st := range set {
		r.set(st)
	}
	return nil
}

// set replaces r's state with st.
func (r *recovery) set(st *recoveryState) {
	r.mu.Lock()
	r.prefix, r.seq, r.packets, r.sessions = st.prefix, st.seq, st.packets, st.sessions
	r.mu.Unlock()
}

// decodeRecovery reads and checks a saved state, without what is older
// than max at now.
func decodeRecovery(r io.Reader, max time.Duration, now time.Time) (map[string]*recoveryState, error) {
	var in savedRecovery
	dec := json.NewDecoder(r)
	if err := dec.Decode(&in); err != nil {
		return nil, fmt.Errorf("tsunagi: restore the recovery state: not a saved state: %w", err)
	}
	if in.Version != recoveryVersion {
		return nil, fmt.Errorf("tsunagi: restore the recovery state: version %d, this server reads version %d", in.Version, recoveryVersion)
	}
	bad := func(ns, format string, args ...any) error {
		return fmt.Errorf("tsunagi: restore the recovery state: namespace %q: %s", ns, fmt.Sprintf(format, args...))
	}
	out := make(map[string]*recoveryState, len(in.Namespaces))
	for _, sn := range in.Namespaces {
		if !strings.HasPrefix(sn.Name, "/") {
			return nil, bad(sn.Name, "a namespace name starts with /")
		}
		if out[sn.Name] != nil {
			return nil, bad(sn.Name, "named twice")
		}
		if sn.Prefix == "" || len(sn.Prefix) > 64 {
			return nil, bad(sn.Name, "offset prefix %q", sn.Prefix)
		}
		st := &recoveryState{prefix: sn.Prefix, seq: sn.Seq, sessions: make(map[string]*session, len(sn.Sessions))}
		var last uint64
		for i, p := range sn.Packets {
			n, ok := offsetSeq(sn.Prefix, p.Offset)
			if !ok || n <= last || n > sn.Seq {
				return nil, bad(sn.Name, "packet %d: offset %q does not follow %d in %s-1…%d", i, p.Offset, last, sn.Prefix, sn.Seq)
			}
			last = n
			if p.At.IsZero() || p.Text == "" {
				return nil, bad(sn.Name, "packet %d: no time or no message", i)
			}
			if now.Sub(p.At) > max {
				continue
			}
			fs := make([]frame, 0, 1+len(p.Buffers))
			fs = append(fs, frame{websocket.MessageText, []byte(p.Text), p.NoCompress})
			for _, b := range p.Buffers {
				fs = append(fs, frame{websocket.MessageBinary, b, p.NoCompress})
			}
			st.packets = append(st.packets, storedPacket{offset: p.Offset, at: p.At, frames: fs, opts: BroadcastOptions{
				Rooms: p.Rooms, Except: p.Except, Flags: BroadcastFlags{Volatile: p.Volatile, NoCompress: p.NoCompress, Local: p.Local}}})
		}
		for i, se := range sn.Sessions {
			if se.ID == "" || se.PID == "" || se.At.IsZero() {
				return nil, bad(sn.Name, "session %d: no id, private id or time", i)
			}
			if st.sessions[se.PID] != nil {
				return nil, bad(sn.Name, "session %d: private id given twice", i)
			}
			if now.Sub(se.At) > max {
				continue
			}
			st.sessions[se.PID] = &session{id: se.ID, pid: se.PID, rooms: se.Rooms, at: se.At}
		}
		out[sn.Name] = st
	}
	if dec.More() {
		return nil, errors.New("tsunagi: restore the recovery state: more data after the saved state")
	}
	return out, nil
}

// offsetSeq is the sequence number of offset, prefix-<base 36>.
func offsetSeq(prefix, offset string) (uint64, bool) {
	rest, ok := strings.CutPrefix(offset, prefix+"-")
	if !ok || rest == "" {
		return 0, false
	}
	n, err := strconv.ParseUint(rest, 36, 64)
	return n, err == nil && strconv.FormatUint(n, 36) == rest
}

// restoreFromEnv restores the state the file EnvRecoveryFile names holds,
// when set and recovery is on, and removes the file: a file that does not
// restore is logged and dropped.
func (s *Server) restoreFromEnv() {
	if s.recoveryFile == "" {
		return
	}
	b, err := os.ReadFile(s.recoveryFile)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	if err == nil {
		err = s.RestoreRecovery(bytes.NewReader(b))
	}
	os.Remove(s.recoveryFile)
	if err != nil {
		s.log.Warn("tsunagi: recovery state not restored, starting without it", "file", s.recoveryFile, "err", err)
		return
	}
	s.log.Info("tsunagi: recovery state restored", "file", s.recoveryFile)
}

// saveToEnv writes the recovery state to the file EnvRecoveryFile names,
// when set: to a temporary file first, renamed, so a reader never sees
// half of it.
func (s *Server) saveToEnv() error {
	if s.recoveryFile == "" {
		return nil
	}
	var buf bytes.Buffer
	if err := s.SaveRecovery(&buf); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.recoveryFile), ".recovery-*")
	if err == nil {
		_, err = tmp.Write(buf.Bytes())
		if cErr := tmp.Close(); err == nil {
			err = cErr
		}
		if err == nil {
			err = os.Rename(tmp.Name(), s.recoveryFile)
		}
		if err != nil {
			os.Remove(tmp.Name())
		}
	}
	if err != nil {
		return fmt.Errorf("tsunagi: save the recovery state to %s (%s): %w", s.recoveryFile, EnvRecoveryFile, err)
	}
	return nil
}
