namespace EdgeCache.Client;

/// <summary>A node that applied a purge, and how long after publication its acknowledgement came.</summary>
public sealed record NodeAck(string Node, TimeSpan Elapsed);
