package app

import (
	"context"
	"net"
	"net/http"
	"time"
)

// TrackingServer returns the URL a job launched by this process should
// report to. When the configured server (Config.BaseURL) answers /readyz,
// that is it and url is "". Otherwise this process serves its own API on
// a loopback port until stop is called, so a job started from the command
// line can read datasets and log its run without a running `hygie server`
// (the job must then run on this machine: the local executor, or a
// single-node Slurm).
func (a *App) TrackingServer(ctx context.Context) (url string, stop func(), err error) {
	probe := &http.Client{Timeout: 2 * time.Second}
	if resp, err := probe.Get(a.Config.BaseURL() + "/readyz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return "", func() {}, nil
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: a.Server, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	a.Log.Debug("serving the API on loopback for a job", "addr", l.Addr().String())
	return "http://" + l.Addr().String(), func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}, nil
}
