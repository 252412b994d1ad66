using TorchSharp.Modules;
using static TorchSharp.torch;

namespace VaeCluster.Model;

/// <summary>
/// p(z) = sum_k 1/10 N(z; m_k, diag(exp(v_k))): ten learned Gaussians, one per digit, with learned means m
/// ("prior.means", [10, latent]) and log-variances v ("prior.logvars", [10, latent]). Ordinary parameters: the
/// coordinator's Adam updates them like the network's weights. The label prior p(y) stays uniform (learning it
/// could gain at most the 0.0022 nats by which MNIST's label entropy falls short of ln 10).
/// </summary>
public sealed class MixturePrior : nn.Module
{
    public const int Components = 10;
    public const string Prefix = "prior.";

    private Parameter means;
    private Parameter logvars;

    /// <param name="spacing">starting means spacing * e_k; Adam at 1e-3 moves a mean by at most ~5 in 10 epochs, so the start matters</param>
    public MixturePrior(int latent, float spacing) : base(nameof(MixturePrior))
    {
        using (var axes = eye(Components, latent))
            means = new Parameter(axes * spacing, requires_grad: true);
        logvars = new Parameter(zeros(Components, latent), requires_grad: true);
        RegisterComponents();
    }

    public Tensor Means => means;
    public Tensor LogVars => logvars;

    /// <summary>log N(z; m_k, diag(exp(v_k))) for every image and component, [n, 10], without the -latent/2 ln(2 pi)
    /// (it cancels against log q(z|x)'s).</summary>
    public Tensor ComponentLogDensities(Tensor z)
    {
        using var scope = NewDisposeScope();
        var diff = z.unsqueeze(1) - means.unsqueeze(0);                                   // [n, 10, latent]
        var terms = logvars.unsqueeze(0) + diff.pow(2) * (-logvars).exp().unsqueeze(0);
        return (-0.5 * terms.sum(2)).MoveToOuterDisposeScope();
    }

    /// <summary>z = m_y + exp(v_y / 2) * eps: a draw from each row's component.</summary>
    public Tensor Sample(Tensor eps, Tensor digits)
    {
        using var m = means.index_select(0, digits);
        using var v = logvars.index_select(0, digits);
        using var sigma = (0.5 * v).exp_();
        return m + sigma * eps;
    }

    /// <summary>Copies values into the parameters (loading a checkpoint or an export); the shapes must be [10, latent].</summary>
    public void LoadValues(Tensor newMeans, Tensor newLogvars)
    {
        using var _ = no_grad();
        means.copy_(newMeans);
        logvars.copy_(newLogvars);
    }

    public IEnumerable<(string Name, Tensor Tensor)> NamedParameters() =>
        [(Prefix + "means", means), (Prefix + "logvars", logvars)];

    /// <summary>Computes with the master's storage (single-process workers), as <see cref="Vae.ShareParametersOf"/> does.</summary>
    public void ShareParametersOf(IReadOnlyDictionary<string, Tensor> master)
    {
        means = new Parameter(master[Prefix + "means"].detach(), requires_grad: true);
        ConditionallyRegisterParameter(nameof(means), means);
        logvars = new Parameter(master[Prefix + "logvars"].detach(), requires_grad: true);
        ConditionallyRegisterParameter(nameof(logvars), logvars);
    }
}
