using VaeCluster.Checkpoints;
using VaeCluster.Model;
using static TorchSharp.torch;

namespace VaeCluster.Tests.Checkpoints;

/// <summary>Checkpoints shaped like real ones: the reference VAE's parameters and matching Adam moments.</summary>
internal static class CheckpointSamples
{
    public const string ConfigJson = """{"epochs":10,"batchSize":128,"learningRate":0.001,"note":"quotes \" and ünïcode"}""";

    /// <summary>A small VAE keeps the tests fast; names and order are those of the real model.</summary>
    public static Checkpoint Make(long globalStep, int seed = 1)
    {
        random.manual_seed(seed);
        using var vae = new Vae(new ModelShape(Hidden: 8, Latent: 2));
        var parameters = vae.NamedParameters().Select(p => (p.Name, p.Tensor.detach().clone())).ToList();
        var expAvg = parameters.Select(p => (p.Name, randn_like(p.Item2))).ToList();
        var expAvgSq = parameters.Select(p => (p.Name, rand_like(p.Item2))).ToList();
        return new Checkpoint(
            new TrainingCursor(Epoch: 3, StepInEpoch: 17, GlobalStep: globalStep),
            DataOrderSeed: -1234567890123L,
            new RandomStreamState(BeforePermutation: [1, 2, 3, 250], Current: [9, 8, 7, 6, 5]),
            ConfigJson,
            parameters,
            new AdamState(Step: globalStep, expAvg, expAvgSq));
    }

    public static float[] Values(Tensor t) => t.data<float>().ToArray();

    public static int[] Bits(Tensor t) => Values(t).Select(BitConverter.SingleToInt32Bits).ToArray();
}
