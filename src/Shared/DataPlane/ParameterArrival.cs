namespace VaeCluster.DataPlane;

/// <summary>
/// A step's parameters as they arrive over TCP, tensor by tensor in state_dict order, which is the order the forward
/// pass uses them (fc1 first): a node's workers start a layer as soon as its tensors are in, while the rest of the
/// copy is still on the wire. The reader thread says how many have arrived; workers wait for the ones they need.
/// </summary>
public sealed class ParameterArrival(int tensors)
{
    /// <summary>Parameters that are all in place already (shared memory, one process, a step's later shards).</summary>
    public static readonly ParameterArrival Complete = Arrived(int.MaxValue);

    private readonly object gate = new();
    private int arrived;
    private string? failure;

    /// <summary>How long a worker waits for a tensor before it gives up on the shard (no wait without a deadline).</summary>
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    public int Tensors => tensors;

    public static ParameterArrival Arrived(int tensors)
    {
        var arrival = new ParameterArrival(tensors);
        arrival.arrived = tensors;
        return arrival;
    }

    /// <summary>The first <paramref name="count"/> tensors are in place (called by the reader thread, in order).</summary>
    public void Have(int count)
    {
        lock (gate)
        {
            arrived = count;
            Monitor.PulseAll(gate);
        }
    }

    /// <summary>The rest will not come (the connection broke): waiting workers give up with <paramref name="reason"/>.</summary>
    public void Fail(string reason)
    {
        lock (gate)
        {
            failure = reason;
            Monitor.PulseAll(gate);
        }
    }

    /// <summary>Blocks until the first <paramref name="count"/> tensors are in place.</summary>
    /// <exception cref="WireError">They will not come, or did not within <see cref="Patience"/>.</exception>
    public void WaitFor(int count)
    {
        if (Volatile.Read(ref arrived) >= count) return;
        var deadline = DateTime.UtcNow + Patience;
        lock (gate)
        {
            while (arrived < count)
            {
                if (failure is not null) throw new WireError($"the step's parameters did not all arrive: {failure}");
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero || !Monitor.Wait(gate, left) && arrived < count)
                    throw new WireError($"the step's parameters did not all arrive within {Patience.TotalSeconds:F0} s");
            }
        }
    }

    public void WaitForAll() => WaitFor(tensors);
}
