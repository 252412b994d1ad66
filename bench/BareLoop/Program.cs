// bare-loop: what a TorchSharp user writes first, plus the two measurements the benchmark compares it with.
//   bare-loop train --data DIR [--epochs N] [--threads 2]   the VAE trained in one plain loop; a JSON line per epoch
//   bare-loop limit [--threads 2] [--size 2048]              the machine's matmul rate, fp32 and bf16 (JSON)
//   bare-loop precision [--threads 2] [--reps 200]           the model's matmuls and whole step, fp32 vs bf16 (JSON)
using BareLoop;

var options = Options.Parse(args.Skip(1).ToArray());
switch (args.FirstOrDefault())
{
    case "train": Training.Run(options); break;
    case "limit": ComputeLimit.Run(options); break;
    case "precision": PrecisionProbe.Run(options); break;
    default:
        Console.Error.WriteLine("usage: bare-loop train|limit|precision [--data DIR] [--epochs N] [--threads N] [--size N] [--reps N]");
        return 2;
}
return 0;
