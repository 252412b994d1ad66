using System.CommandLine;
using VaeCluster.Coordinator.Cli;

// The CLI behind ./vae. The launcher script sets the machine up and builds; this program does the work.
var root = new RootCommand("VaeCluster: train a variational autoencoder on MNIST with coordinator and worker actors, and draw digits.")
{
    TrainCommand.Create(),
    TrainCommand.CreateCoordinator(),
    WorkerCommand.Create(),
    GenerateCommand.Create(),
    ExploreCommand.Create(),
    LogsCommand.Create(),
    EvaluateCommand.Create(),
    new Command("test", "Set up and run every test (xunit). Run it as ./vae test: the launcher handles it."),
};
// Training owns Ctrl-C and SIGTERM itself (Hosting/StopSignals), so that it can stop cleanly and say how to resume.
return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
