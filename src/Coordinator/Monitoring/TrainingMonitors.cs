using System.Diagnostics;
using Akka.Actor;

namespace VaeCluster.Coordinator.Monitoring;

/// <summary>
/// The one place a host starts what watches a training run, beside the coordinator: always the run watcher (the
/// dashboard's and the metrics' state, and TensorBoard's files); on a terminal also a live progress display
/// (elsewhere the coordinator's log lines already are the plain output).
/// </summary>
public static class TrainingMonitors
{
    public static void Start(ActorSystem system, WatchPlan plan)
    {
        var clock = Stopwatch.StartNew();
        system.ActorOf(RunWatcher.Props(plan, () => clock.Elapsed), "watch");
        if (!SpectreProgressView.TerminalCanShowIt()) return;
        system.ActorOf(ProgressDisplay.Props(plan.Facts.Progress, () => new SpectreProgressView(), () => clock.Elapsed), "progress");
    }
}
