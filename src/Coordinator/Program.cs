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
    TestCommand(),
};
var parsed = root.Parse(args);
if (parsed.Errors.Count > 0) return ParseErrors.Report(parsed, Console.Error);
// Training owns Ctrl-C and SIGTERM itself (Hosting/StopSignals), so that it can stop cleanly and say how to resume.
return await parsed.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });

// Listed so that ./vae --help shows it; the launcher runs the tests itself and never reaches this program with it.
static Command TestCommand()
{
    var test = new Command("test", "Set up and run every test (xunit). Run it as ./vae test: the launcher handles it.");
    test.SetAction(_ =>
    {
        Console.Error.WriteLine("error: run the tests through the launcher, ./vae test (it sets the machine up and builds them)");
        return UserError.ExitCode;
    });
    return test;
}
