namespace VaeCluster.Model;

/// <summary>Which model a run trains. Written in config JSON and exports as snake_case ("vae", "mixture").</summary>
public enum ModelKind
{
    /// <summary>The reference VAE of pytorch/examples: prior N(0, I), no labels, PyTorch-compatible export.</summary>
    Vae,

    /// <summary>The same network with a prior of one Gaussian per digit, trained with the labels (docs/MIXTURE_MODEL.md).</summary>
    Mixture,
}
