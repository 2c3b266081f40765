package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// pprofAddr resolves --pprof-listen: a bare port (":6060" or "6060")
// listens on loopback only, since profiles show the program's internals;
// any other host must be given explicitly. The public listener never
// serves profiles: they get a listener of their own.
func pprofAddr(flagValue, publicListen string) (string, error) {
	addr := flagValue
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort("", addr) // "6060"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		return "", fmt.Errorf("--pprof-listen %q: want host:port or a port", flagValue)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	addr = net.JoinHostPort(host, port)
	if port != "0" && addr == publicListen {
		return "", fmt.Errorf("--pprof-listen %q: must differ from --listen, profiles are never served to the public", flagValue)
	}
	return addr, nil
}

// startPprof serves net/http/pprof on --pprof-listen, when set.
func (m *Main) startPprof(context.Context) error {
	if m.Config.PprofListen == "" {
		return nil
	}
	addr, err := pprofAddr(m.Config.PprofListen, m.Config.Listen)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--pprof-listen: %w", err)
	}
	if ln.Addr().String() == m.Addr {
		_ = ln.Close()
		return errors.New("--pprof-listen: must differ from --listen")
	}
	m.PprofAddr = ln.Addr().String()
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	// A CPU profile takes as long as it is asked to: the write timeout
	// leaves room for a minute-long one.
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 2 * time.Minute}
	go func() { _ = srv.Serve(ln) }()
	m.onStop(func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			return srv.Close()
		}
		return nil
	})
	m.log.Info("profiling", "addr", m.PprofAddr)
	return nil
}
