using VaeCluster.Checkpoints;
using VaeCluster.Coordinator.Run;
using VaeCluster.Model;
using VaeCluster.Tests.Checkpoints;
using VaeCluster.Training;
using Xunit;
using static TorchSharp.torch;

namespace VaeCluster.Tests.Model;

/// <summary>model.safetensors of the mixture model: the reference network's tensors plus the learned prior, and back.</summary>
public sealed class MixtureExportTests : IDisposable
{
    private readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    [Fact]
    public void Should_write_the_reference_layers_and_the_learned_prior_and_read_back_the_same_model()
    {
        var shape = ModelShape.Reference with { Kind = ModelKind.Mixture };
        var (written, stream) = ModelFactory.CreateSeeded(shape, 5);
        using var _ = stream;
        using var model = written;
        // Move the prior off its starting values, so reading back cannot pass by rebuilding them.
        using (no_grad())
            foreach (var (name, tensor) in model.NamedParameters().Where(p => p.Name.StartsWith("prior.")))
                tensor.add_(randn(tensor.shape) * 0.3);
        var path = dir.File("model.safetensors");
        ModelExport.Write(path, model, new TrainingOptions { Model = ModelKind.Mixture }, new TrainingCursor(2, 0, 10));

        var file = SafeTensorsFile.Read(path);
        Assert.Equal("mixture", file.Metadata["model"]);
        Assert.Equal(
            ["fc1.weight", "fc1.bias", "fc21.weight", "fc21.bias", "fc22.weight", "fc22.bias", "fc3.weight", "fc3.bias", "fc4.weight", "fc4.bias", "prior.means", "prior.logvars"],
            file.Tensors.Select(t => t.Name));
        long components = 10 * MixtureVae.PerDigit;
        Assert.Equal([components, 20L], file.Tensors.Single(t => t.Name == "prior.means").Shape);
        Assert.Equal([components, 20L], file.Tensors.Single(t => t.Name == "prior.logvars").Shape);
        Assert.Equal([400L, 20L], file.Tensors.Single(t => t.Name == "fc3.weight").Shape); // the decoder reads z alone

        using var read = ModelExport.Read(path);
        var expected = model.NamedParameters();
        var actual = read.NamedParameters();
        Assert.Equal(expected.Select(p => p.Name), actual.Select(p => p.Name));
        for (int i = 0; i < expected.Count; i++)
            Assert.Equal(expected[i].Tensor.data<float>().ToArray(), actual[i].Tensor.data<float>().ToArray());

        // Same model, same behaviour: generation and the label-free ELBO agree exactly.
        using var noGrad = no_grad();
        using var eps = randn(6, 20);
        using var digits = tensor(new long[] { 0, 1, 4, 7, 9, 9 });
        using var generatorA = new Generator(9);
        using var generatorB = new Generator(9);
        using var a = model.Generate(eps, digits, generatorA);
        using var b = read.Generate(eps, digits, generatorB);
        Assert.Equal(a.data<float>().ToArray(), b.data<float>().ToArray());
        using var x = rand(6, Vae.ImagePixels);
        using var la = model.UnconditionalLoss(x, eps);
        using var lb = read.UnconditionalLoss(x, eps);
        Assert.Equal(la.item<float>(), lb.item<float>());
    }

    [Fact]
    public void Should_read_back_a_fitted_prior_of_another_size_and_write_it_again_unchanged()
    {
        var shape = ModelShape.Reference with { Kind = ModelKind.Mixture };
        using var trained = ModelFactory.Create(shape);
        // What ModelExport.WriteTrained writes: the network, then a prior of 96 Gaussians per digit.
        long k = 10 * MixturePriorFit.PerDigit;
        using var means = randn(k, 20) * 3;
        using var logvars = randn(k, 20) * 0.2 - 1;
        var tensors = trained.NamedParameters().Where(p => !p.Name.StartsWith("prior.")).Append(("prior.means", means)).Append(("prior.logvars", logvars)).ToList();
        var first = dir.File("fitted.safetensors");
        SafeTensorsFile.Write(first, tensors, new Dictionary<string, string>
        {
            ["format"] = "vaecluster-model/1", ["model"] = "mixture", ["hidden"] = "400", ["latent"] = "20",
        });

        using var read = ModelExport.Read(first);
        var prior = read.NamedParameters().Where(p => p.Name.StartsWith("prior.")).ToList();
        Assert.Equal(means.data<float>().ToArray(), prior[0].Tensor.data<float>().ToArray());
        Assert.Equal(logvars.data<float>().ToArray(), prior[1].Tensor.data<float>().ToArray());

        // Digit 7 is drawn from its own Gaussians, rows 7, 17, ..., 957: with eps = 0 each image decodes one of their means.
        using (no_grad())
        {
            using var eps = zeros(50, 20);
            using var sevens = full(50, 7L);
            using var generator = new Generator(4);
            using var images = read.Generate(eps, sevens, generator);
            using var candidates = read.Decode(means.index_select(0, arange(7, k, 10)));
            using var nearest = (images.unsqueeze(1) - candidates.unsqueeze(0)).abs().amax([2]).min(1).values;
            Assert.True(nearest.max().item<float>() < 1e-5f);
        }

        var second = dir.File("again.safetensors");
        ModelExport.Write(second, read, new TrainingOptions { Model = ModelKind.Mixture }, new TrainingCursor(2, 0, 10));
        Assert.Equal(
            SafeTensorsFile.Read(first).Tensors.Select(t => (t.Name, string.Join(",", t.Shape))),
            SafeTensorsFile.Read(second).Tensors.Select(t => (t.Name, string.Join(",", t.Shape))));
        using var again = ModelExport.Read(second);
        Assert.Equal(prior[0].Tensor.data<float>().ToArray(), again.NamedParameters()[^2].Tensor.data<float>().ToArray());
    }

    [Fact]
    public void Should_refuse_an_export_without_the_learned_variances_naming_the_missing_tensor()
    {
        var shape = ModelShape.Reference with { Kind = ModelKind.Mixture };
        using var model = ModelFactory.Create(shape);
        var path = dir.File("old.safetensors");
        SafeTensorsFile.Write(path, model.NamedParameters().Where(p => p.Name != "prior.logvars").ToList(), new Dictionary<string, string>
        {
            ["format"] = "vaecluster-model/1", ["model"] = "mixture", ["hidden"] = "400", ["latent"] = "20",
        });
        var error = Assert.Throws<CheckpointError>(() => ModelExport.Read(path));
        Assert.Contains("prior.logvars", error.Message);
    }
}
