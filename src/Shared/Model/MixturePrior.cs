using TorchSharp.Modules;
using static TorchSharp.torch;

namespace VaeCluster.Model;

/// <summary>
/// The learned prior: K = 10 * PerDigit Gaussians with learned means m ("prior.means", [K, latent]) and
/// log-variances v ("prior.logvars", [K, latent]); component k belongs to digit k mod 10.
/// p(z) = sum_k 1/K N(z; m_k, diag(exp(v_k))), p(z | y) = sum_{k mod 10 = y} 1/PerDigit N(z; m_k, diag(exp(v_k))).
/// Ordinary parameters: the coordinator's Adam updates them like the network's weights. The weights of the
/// components stay uniform (learning p(y) could gain at most the 0.0022 nats by which MNIST's label entropy falls
/// short of ln 10).
/// </summary>
public sealed class MixturePrior : nn.Module
{
    public const int Digits = 10;
    public const string Prefix = "prior.";

    private Parameter means;
    private Parameter logvars;

    public int PerDigit { get; }

    public Tensor Means => means;

    public Tensor LogVars => logvars;

    /// <param name="spacing">digit y's components start at spacing * e_y (Adam at 1e-3 moves a mean by at most ~5 in 10 epochs, so the start matters)</param>
    /// <param name="perDigit">components per digit; all but the first of a digit start off its axis by a fixed draw, so they can part</param>
    public MixturePrior(int latent, float spacing, int perDigit) : base(nameof(MixturePrior))
    {
        PerDigit = perDigit;
        using (NewDisposeScope())
        {
            var start = eye(Digits, latent).repeat(perDigit, 1) * spacing;
            using var fixedDraw = new Generator(0);
            var offsets = randn(new long[] { Digits * perDigit, latent }, generator: fixedDraw);
            offsets.narrow(0, 0, Digits).zero_();
            means = new Parameter((start + offsets).DetachFromDisposeScope(), requires_grad: true);
        }
        logvars = new Parameter(zeros(Digits * perDigit, latent), requires_grad: true);
        RegisterComponents();
    }

    /// <summary>log p(z | y) for every image and digit, [n, 10], without the -latent/2 ln(2 pi) (it cancels against log q(z|x)'s).</summary>
    public Tensor DigitLogDensities(Tensor z)
    {
        using var scope = NewDisposeScope();
        var diff = z.unsqueeze(1) - means.unsqueeze(0);                                   // [n, K, latent]
        var terms = logvars.unsqueeze(0) + diff.pow(2) * (-logvars).exp().unsqueeze(0);
        var components = -0.5 * terms.sum(2);                                            // log N(z; m_k, .), [n, K]
        // k = j * 10 + y: the digit's components are one column apart in each block of ten
        var digits = components.view(-1, PerDigit, Digits).logsumexp(1) - Math.Log(PerDigit);
        return digits.MoveToOuterDisposeScope();
    }

    /// <summary>z = m_k + exp(v_k / 2) * eps, k one of digit y's components drawn uniformly with <paramref name="generator"/>.</summary>
    public Tensor Sample(Tensor eps, Tensor digits, Generator? generator)
    {
        using var scope = NewDisposeScope();
        var k = digits + Digits * randint(0, PerDigit, digits.shape, generator: generator);
        var z = means.index_select(0, k) + (0.5 * logvars.index_select(0, k)).exp() * eps;
        return z.MoveToOuterDisposeScope();
    }

    /// <summary>Copies values into the parameters (loading a checkpoint or an export); the shapes must be [K, latent].</summary>
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
