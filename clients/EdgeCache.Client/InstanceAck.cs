namespace EdgeCache.Client;

/// <summary>An application instance (the HybridCache backplane) that applied a purge, and how long after publication.</summary>
public sealed record InstanceAck(string Instance, TimeSpan Elapsed);
