namespace VaeCluster.Coordinator.Training;

/// <summary>
/// Somewhere the optimizer also writes the parameters as it updates them (cluster mode: the shared-memory region
/// that co-located workers compute from), so publishing them costs no pass of its own.
/// </summary>
public interface IParameterMirror
{
    /// <summary>The destination of a chunk of parameter <paramref name="tensorIndex"/>.</summary>
    Span<float> Chunk(int tensorIndex, int start, int length);

    /// <summary>The mirror now holds the parameters that step <paramref name="step"/> computes with.</summary>
    void Holds(long step);
}
