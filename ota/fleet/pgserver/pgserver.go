// Package pgserver runs Debian's PostgreSQL in a private data directory for
// tests and benchmarks: initdb into a fresh directory, the server listening
// on a Unix socket in that directory only (no TCP), stopped by PID.
//
// PostgreSQL refuses to run as root, so as root the server runs as the
// "postgres" user the Debian package creates (or "nobody"); otherwise as
// the caller.
package pgserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// BinDir finds the newest installed server's bin directory.
func BinDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	if len(dirs) == 0 {
		return "", errors.New("no /usr/lib/postgresql/*/bin/postgres (apt-get install postgresql)")
	}
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(dirs[i]))))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(dirs[j]))))
		return vi < vj
	})
	return filepath.Dir(dirs[len(dirs)-1]), nil
}

// Options tune the server.
type Options struct {
	// Durable keeps fsync on (benchmarks); tests turn it off, since
	// they kill the server process, not the machine, and committed data
	// survives that in the page cache.
	Durable bool
	// Settings are extra "-c name=value" settings.
	Settings []string
}

// Server is one running (or stopped) PostgreSQL.
type Server struct {
	Dir  string // data directory and socket directory
	bin  string
	opts Options
	cred *syscall.Credential
	port int

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	log  *bytes.Buffer
}

// User is the database superuser name.
const User = "cw"

// Start initialises a data directory under base (a new directory is made
// there; base "" = the system temp directory) and starts the server.
func Start(base string, o Options) (*Server, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(base, "cwfleet-pg-")
	if err != nil {
		return nil, err
	}
	s := &Server{Dir: dir, bin: bin, opts: o, log: &bytes.Buffer{}}
	if os.Geteuid() == 0 {
		cred, err := unprivileged()
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		s.cred = cred
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	// A free TCP port number only names the socket file; nothing listens
	// on TCP.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s.port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", s.dataDir(), "-U", User, "--auth=trust",
		"-E", "UTF8", "--no-locale", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	if err := s.Restart(); err != nil {
		s.Remove()
		return nil, err
	}
	return s, nil
}

func unprivileged() (*syscall.Credential, error) {
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, errors.New("no postgres or nobody user to run the server as")
}

func (s *Server) dataDir() string { return filepath.Join(s.Dir, "data") }

// DSN connects as the superuser to the postgres database over the socket.
func (s *Server) DSN() string {
	return fmt.Sprintf("host=%s port=%d user=%s dbname=postgres sslmode=disable", s.Dir, s.port, User)
}

// Log is what the server wrote so far (bounded by the caller's patience).
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

type lockedWriter struct{ s *Server }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	if w.s.log.Len() > 1<<20 {
		return len(p), nil
	}
	return w.s.log.Write(p)
}

// Restart starts the server (again) on the same data directory and waits
// until it accepts connections.
func (s *Server) Restart() error {
	s.mu.Lock()
	if s.cmd != nil {
		s.mu.Unlock()
		return errors.New("pgserver: already running")
	}
	args := []string{"-D", s.dataDir(), "-k", s.Dir, "-p", strconv.Itoa(s.port), "-c", "listen_addresses=",
		"-c", "max_connections=60", "-c", "shared_buffers=64MB"}
	if !s.opts.Durable {
		args = append(args, "-c", "fsync=off", "-c", "full_page_writes=off")
	}
	for _, kv := range s.opts.Settings {
		args = append(args, "-c", kv)
	}
	cmd := exec.Command(filepath.Join(s.bin, "postgres"), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	cmd.Stdout, cmd.Stderr = lockedWriter{s}, lockedWriter{s}
	if err := cmd.Start(); err != nil {
		s.mu.Unlock()
		return fmt.Errorf("postgres: %w", err)
	}
	done := make(chan struct{})
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	go func() { _ = cmd.Wait(); close(done) }()
	sock := filepath.Join(s.Dir, fmt.Sprintf(".s.PGSQL.%d", s.port))
	deadline := time.Now().Add(30 * time.Second)
	for {
		if c, err := net.DialTimeout("unix", sock, time.Second); err == nil {
			c.Close()
			if err := s.ready(); err == nil {
				return nil
			}
		}
		select {
		case <-done:
			s.mu.Lock()
			s.cmd = nil
			s.mu.Unlock()
			return fmt.Errorf("postgres exited:\n%s", s.Log())
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres not ready after 30s:\n%s", s.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ready asks pg_isready, which says "accepting connections" only after
// crash recovery has finished.
func (s *Server) ready() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, filepath.Join(s.bin, "pg_isready"), "-q", "-h", s.Dir, "-p", strconv.Itoa(s.port)).Run()
}

// Stop shuts the server down cleanly (SIGINT: fast shutdown).
func (s *Server) Stop() { s.signal(syscall.SIGINT) }

// Crash stops the server the way a crash would (SIGQUIT: immediate
// shutdown, crash recovery at the next start). SIGKILL of the postmaster
// would leave its backends holding the shared memory, so the next start
// would refuse.
func (s *Server) Crash() { s.signal(syscall.SIGQUIT) }

// PID is the postmaster's process id (0 when stopped).
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
	s.mu.Lock()
	s.cmd = nil
	s.mu.Unlock()
}

// Remove stops the server and deletes its directory.
func (s *Server) Remove() {
	s.Stop()
	os.RemoveAll(s.Dir)
}
