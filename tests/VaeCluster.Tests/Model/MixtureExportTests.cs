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
