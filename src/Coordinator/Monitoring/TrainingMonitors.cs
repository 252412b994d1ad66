using System.Diagnostics;
using Akka.Actor;

namespace VaeCluster.Coordinator.Monitoring;

/// <summary>
/// The one place a host starts what watches a training run, beside the coordinator: on a terminal, a live
/// progress display; elsewhere nothing, because the coordinator's log lines already are the plain output.
/// </summary>
public static class TrainingMonitors
{
    public static void Start(ActorSystem system, ProgressPlan plan)
    {
        if (!SpectreProgressView.TerminalCanShowIt()) return;
        var clock = Stopwatch.StartNew();
        system.ActorOf(ProgressDisplay.Props(plan, () => new SpectreProgressView(), () => clock.Elapsed), "progress");
    }
}
