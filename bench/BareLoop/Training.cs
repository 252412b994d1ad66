using System.Diagnostics;
using System.Text.Json;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace BareLoop;

/// <summary>
/// The pytorch/examples VAE trained the way a TorchSharp user would write it first: one process, one loop,
/// torch.optim.Adam, a dispose scope per step. Prints the same JSON line per epoch as the PyTorch peer
/// (shared/peers/pytorch_vae.py), so bench/same_library.py reads all three programs alike.
/// </summary>
public static class Training
{
    public static void Run(Options o)
    {
        torch.set_num_threads(o.Threads);
        torch.manual_seed(1);
        using var train = Mnist(Path.Combine(o.Data, "train-images-idx3-ubyte"));
        using var test = Mnist(Path.Combine(o.Data, "t10k-images-idx3-ubyte"));
        long n = train.shape[0];
        using var model = new Model();
        using var optimizer = optim.Adam(model.parameters(), lr: 1e-3);

        for (int epoch = 1; epoch <= o.Epochs; epoch++)
        {
            var clock = Stopwatch.StartNew();
            model.train();
            double trainLoss = 0;
            using (var order = randperm(n))
            {
                for (long i = 0; i < n; i += o.Batch)
                {
                    using var scope = NewDisposeScope();
                    var x = train.index_select(0, order.narrow(0, i, Math.Min(o.Batch, n - i)));
                    optimizer.zero_grad();
                    var (r, mu, logVar) = model.forward(x);
                    var loss = Loss(r, x, mu, logVar);
                    loss.backward();
                    optimizer.step();
                    trainLoss += loss.item<float>();
                }
            }
            double trainSeconds = clock.Elapsed.TotalSeconds;

            model.eval();
            double testLoss = 0;
            using (no_grad())
            {
                for (long i = 0; i < test.shape[0]; i += 1000)
                {
                    using var scope = NewDisposeScope();
                    var x = test.narrow(0, i, Math.Min(1000, test.shape[0] - i));
                    var (r, mu, logVar) = model.forward(x);
                    testLoss += Loss(r, x, mu, logVar).item<float>();
                }
            }
            Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["peer"] = "bare-torchsharp-0.107", ["epoch"] = epoch, ["train_s"] = Math.Round(trainSeconds, 3),
                ["samples_per_s"] = Math.Round(n / trainSeconds, 1), ["train_loss"] = Math.Round(trainLoss / n, 3),
                ["test_loss"] = Math.Round(testLoss / test.shape[0], 3), ["threads"] = torch.get_num_threads(),
            }));
        }
    }

    private static Tensor Loss(Tensor r, Tensor x, Tensor mu, Tensor logVar) =>
        F.binary_cross_entropy(r, x, reduction: nn.Reduction.Sum)
        - 0.5 * (1 + logVar - mu.pow(2) - logVar.exp()).sum();

    /// <summary>An IDX image file as [count, 784] floats in [0, 1].</summary>
    private static Tensor Mnist(string path)
    {
        var raw = File.ReadAllBytes(path);
        int count = (raw[4] << 24) | (raw[5] << 16) | (raw[6] << 8) | raw[7];
        using var bytes = tensor(raw[16..], ScalarType.Byte);
        return bytes.reshape(count, 784).to_type(ScalarType.Float32).div_(255);
    }

    private sealed class Model : nn.Module<Tensor, (Tensor, Tensor, Tensor)>
    {
        private readonly Linear fc1 = nn.Linear(784, 400), fc21 = nn.Linear(400, 20), fc22 = nn.Linear(400, 20),
            fc3 = nn.Linear(20, 400), fc4 = nn.Linear(400, 784);

        public Model() : base("VAE") => RegisterComponents();

        public override (Tensor, Tensor, Tensor) forward(Tensor x)
        {
            var h = F.relu(fc1.forward(x));
            var (mu, logVar) = (fc21.forward(h), fc22.forward(h));
            var z = mu + randn_like(mu) * (0.5 * logVar).exp();
            return (F.sigmoid(fc4.forward(F.relu(fc3.forward(z)))), mu, logVar);
        }
    }
}
