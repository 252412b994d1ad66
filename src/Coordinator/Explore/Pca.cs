using static TorchSharp.torch;

namespace VaeCluster.Coordinator.Explore;

/// <summary>
/// Principal component analysis by SVD of the centred data: the directions along which the codes spread most,
/// so a 20-D latent space can be looked at in 2-D.
/// </summary>
public static class Pca
{
    /// <summary>
    /// The data projected on its first components (<c>Coordinates[component][row]</c>), and the share of the total
    /// variance each component explains.
    /// </summary>
    public sealed record Projection(float[][] Coordinates, double[] ExplainedVariance);

    /// <param name="data">[n, d] with d ≥ <paramref name="components"/></param>
    public static Projection Fit(Tensor data, int components)
    {
        if (data.shape[1] < components) throw new ArgumentException($"data has {data.shape[1]} dimensions, fewer than {components}", nameof(data));
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var x = data.to_type(ScalarType.Float64);
        var centred = x - x.mean([0], keepdim: true);
        var (_, s, vh) = linalg.svd(centred, fullMatrices: false);
        var axes = vh.narrow(0, 0, components);
        // An SVD may flip any axis; pointing each one's largest loading positive makes the picture repeatable.
        var largest = axes.abs().argmax(1, keepdim: true);
        axes = axes * axes.gather(1, largest).sign();
        var projected = centred.matmul(axes.t()).to_type(ScalarType.Float32);

        var variance = s.pow(2);
        var share = (variance / variance.sum()).narrow(0, 0, components).data<double>().ToArray();
        int n = (int)projected.shape[0];
        var flat = projected.data<float>().ToArray();
        var rows = Enumerable.Range(0, components).Select(c => Enumerable.Range(0, n).Select(i => flat[i * components + c]).ToArray()).ToArray();
        return new Projection(rows, share);
    }
}
