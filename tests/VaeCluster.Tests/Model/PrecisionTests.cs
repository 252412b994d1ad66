using VaeCluster.Coordinator.Cli;
using VaeCluster.Model;
using VaeCluster.Training;
using Xunit;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace VaeCluster.Tests.Model;

/// <summary>--precision: bf16 where the CPU has it, refused in one line where it has not, and fp32 unchanged.</summary>
public sealed class PrecisionTests
{
    private const string CpuWithoutBf16 = "processor\t: 0\nflags\t\t: fpu sse2 avx2 fma avx512f avx512bw avx512vl\n\nprocessor\t: 1\nflags\t\t: fpu sse2 avx2 fma avx512f avx512bw avx512vl\n";
    private const string Zen4 = "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16 avx512_vnni\n";
    private const string SapphireRapids = "processor\t: 0\nflags\t\t: fpu avx2 avx512f amx_bf16 amx_tile\n";

    [Fact]
    public void Should_refuse_bf16_in_one_line_on_a_cpu_without_native_bfloat16()
    {
        var refusal = NativeBf16.Refusal(Precision.Bf16, () => CpuWithoutBf16);
        Assert.NotNull(refusal);
        Assert.DoesNotContain('\n', refusal);
        Assert.Contains("avx512_bf16", refusal);
        Assert.Contains("use --precision fp32", refusal);
        Assert.Null(NativeBf16.Refusal(Precision.Fp32, () => CpuWithoutBf16));
        Assert.NotNull(NativeBf16.Refusal(Precision.Bf16, () => "")); // no /proc/cpuinfo: nothing says it can
    }

    [Fact]
    public void Should_accept_bf16_on_cpus_with_avx512_bf16_or_amx_bf16()
    {
        Assert.Null(NativeBf16.Refusal(Precision.Bf16, () => Zen4));
        Assert.Null(NativeBf16.Refusal(Precision.Bf16, () => SapphireRapids));
    }

    [Fact]
    public async Task Should_refuse_a_bf16_run_before_writing_anything_where_the_cpu_lacks_bf16()
    {
        var work = Directory.CreateTempSubdirectory("vae-precision-").FullName;
        try
        {
            var run = Path.Combine(work, "run");
            var request = new TrainRequest(o => o with { Precision = Precision.Bf16 }, run, Resume: false, CpuInfo: () => CpuWithoutBf16);
            var error = await Assert.ThrowsAsync<UserError>(() => TrainRunner.RunAsync(request, CancellationToken.None));
            Assert.Contains("--precision bf16 needs a CPU with native bfloat16", error.Message);
            Assert.Empty(Directory.GetFileSystemEntries(work));
        }
        finally { Directory.Delete(work, recursive: true); }
    }

    [Fact]
    public async Task Should_refuse_to_resume_a_run_in_another_precision()
    {
        var work = Directory.CreateTempSubdirectory("vae-precision-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(work, "config.json"), new TrainingOptions().ToJson());
            var request = new TrainRequest(o => o with { Precision = Precision.Bf16 }, work, Resume: true, CpuInfo: () => Zen4);
            var error = await Assert.ThrowsAsync<UserError>(() => TrainRunner.RunAsync(request, CancellationToken.None));
            Assert.Contains("--precision cannot change when resuming", error.Message);
            Assert.Equal(["config.json"], Directory.GetFileSystemEntries(work).Select(Path.GetFileName));
        }
        finally { Directory.Delete(work, recursive: true); }
    }

    [Fact]
    public void Should_keep_fp32_the_default_and_read_configs_without_a_precision_as_fp32()
    {
        Assert.Equal(Precision.Fp32, new TrainingOptions().Shape.Precision);
        Assert.Equal(Precision.Fp32, ModelShape.Reference.Precision);
        Assert.Equal(Precision.Fp32, TrainingOptions.FromJson("""{"epochs":3,"hidden":400,"latent":20}""").Precision);
        var json = new TrainingOptions { Precision = Precision.Bf16 }.ToJson();
        Assert.Contains("\"precision\":\"bf16\"", json);
        Assert.Equal(Precision.Bf16, TrainingOptions.FromJson(json).Shape.Precision);
    }

    [Fact]
    public void Should_compute_fp32_exactly_as_the_plain_layers_do()
    {
        using var scope = NewDisposeScope();
        using var model = new Vae(ModelShape.Reference);
        var (x, eps) = Batch();
        var p = model.NamedParameters().ToDictionary(t => t.Name, t => t.Tensor);
        Tensor Layer(string name, Tensor input) => F.linear(input, p[$"{name}.weight"], p[$"{name}.bias"]);
        var h = F.relu(Layer("fc1", x));
        var (mu, logVar) = (Layer("fc21", h), Layer("fc22", h));
        var r = F.sigmoid(Layer("fc4", F.relu(Layer("fc3", Vae.Reparameterize(mu, logVar, eps)))));
        var plain = VaeLoss.Compute(r, x, mu, logVar).Total;

        Assert.Equal(plain.item<float>(), model.Loss(x, x, eps).Total.item<float>()); // bit for bit
    }

    [Fact]
    public void Should_compute_a_bf16_loss_and_gradients_close_to_fp32_but_not_equal()
    {
        using var scope = NewDisposeScope();
        using var fp32 = new Vae(ModelShape.Reference);
        using var bf16 = new Vae(ModelShape.Reference with { Precision = Precision.Bf16 });
        bf16.ShareParametersOf(fp32.NamedParameters());
        var (x, eps) = Batch();

        var (loss32, grads32) = LossAndGradients(fp32, x, eps);
        var (loss16, grads16) = LossAndGradients(bf16, x, eps);

        Assert.NotEqual(loss32, loss16); // the bf16 path is really taken
        Assert.True(Math.Abs(loss16 - loss32) / loss32 < 1e-3, $"loss fp32 {loss32}, bf16 {loss16}");
        foreach (var ((name, g32), (_, g16)) in grads32.Zip(grads16))
        {
            double cosine = F.cosine_similarity(g32.flatten(), g16.flatten(), dim: 0).item<float>();
            double norms = (g16.norm() / g32.norm()).item<float>();
            Assert.True(cosine > 0.999 && Math.Abs(norms - 1) < 0.01, $"{name}: cosine {cosine}, norm ratio {norms}");
        }
    }

    /// <summary>64 images' worth of pixels in [0, 1] and their noise: a worker's shard.</summary>
    private static (Tensor X, Tensor Eps) Batch()
    {
        using var generator = new TorchSharp.torch.Generator(7);
        return (rand(new long[] { 64, Vae.ImagePixels }, generator: generator), randn(new long[] { 64, 20 }, generator: generator));
    }

    private static (double Loss, List<(string Name, Tensor Gradient)> Gradients) LossAndGradients(Vae model, Tensor x, Tensor eps)
    {
        var loss = model.Loss(x, x, eps).Total;
        loss.backward();
        var gradients = model.NamedParameters().Select(p => (p.Name, p.Tensor.grad!.clone())).ToList();
        model.zero_grad();
        return (loss.item<float>(), gradients);
    }
}
