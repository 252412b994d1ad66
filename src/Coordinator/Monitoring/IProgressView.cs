namespace VaeCluster.Coordinator.Monitoring;

/// <summary>Where progress is drawn (a live terminal display, or a test's recorder); disposing it ends the display.</summary>
public interface IProgressView : IDisposable
{
    void Show(ProgressSnapshot snapshot);
}
