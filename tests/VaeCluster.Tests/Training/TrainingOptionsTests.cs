using VaeCluster.Model;
using VaeCluster.Training;
using Xunit;

namespace VaeCluster.Tests.Training;

public sealed class TrainingOptionsTests
{
    [Fact]
    public void Should_write_the_model_kind_in_snake_case_and_read_it_back()
    {
        var json = new TrainingOptions { Model = ModelKind.Mixture }.ToJson();
        Assert.Contains("\"model\":\"mixture\"", json);
        Assert.Equal(ModelKind.Mixture, TrainingOptions.FromJson(json).Model);
        Assert.Equal(new ModelShape(400, 20, ModelKind.Mixture), TrainingOptions.FromJson(json).Shape);
    }

    [Fact]
    public void Should_read_a_config_written_before_the_model_kind_existed_as_the_reference_vae() =>
        Assert.Equal(ModelKind.Vae, TrainingOptions.FromJson("""{"epochs":3,"hidden":400,"latent":20}""").Model);

    [Fact]
    public void Should_refuse_a_mixture_model_with_fewer_latent_axes_than_digits() =>
        Assert.Contains("latent size of at least 10", new TrainingOptions { Model = ModelKind.Mixture, Latent = 4 }.Validate());
}
