namespace BareLoop;

/// <summary>The benchmark's few flags, as --name value pairs.</summary>
public sealed record Options(string Data, int Epochs, int Threads, int Size, int Reps, int Batch)
{
    public static Options Parse(string[] args)
    {
        var values = new Dictionary<string, string>();
        for (int i = 0; i + 1 < args.Length; i += 2) values[args[i].TrimStart('-')] = args[i + 1];
        string Get(string name, string fallback) => values.GetValueOrDefault(name, fallback);
        return new Options(Get("data", "data/mnist"), int.Parse(Get("epochs", "3")), int.Parse(Get("threads", "2")),
            int.Parse(Get("size", "2048")), int.Parse(Get("reps", "200")), int.Parse(Get("batch", "128")));
    }
}
