namespace VaeCluster.Coordinator.Web;

/// <summary>The dashboard cannot listen where it was asked to; the message is one line for the user.</summary>
public sealed class DashboardError(string message) : Exception(message);
