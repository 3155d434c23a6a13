package app

import (
	"context"

	"github.com/hygie-health/hygie/internal/monitor"
)

// wireMonitoring gives the monitoring service what its checks read and
// adds its API.
func (a *App) wireMonitoring() {
	a.Monitor.SetSources(monitor.Sources{Registry: a.Registry, Runs: a.Runs, Datasets: a.Datasets, Train: a.Services.Train})
	a.Server.AddMonitorAPI(a.Monitor, a.Registry)
}

// startMonitoring runs the scheduled checks of production models every
// MonitorInterval (off when 0) until ctx is done.
func (a *App) startMonitoring(ctx context.Context) {
	go a.Monitor.Schedule(ctx, a.Config.MonitorInterval, a.Log)
}
