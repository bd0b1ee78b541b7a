namespace EdgeCache.Client;

/// <summary>
/// The API's answer: the purge's id (for <see cref="EdgeCacheClient.GetPurgeAsync"/>) and its event's
/// stream sequence, and, when the call waited, which live nodes applied it and which had not yet.
/// </summary>
public sealed record PurgeResult(string Id, ulong Sequence)
{
    /// <summary>The answer reports progress (the call waited, or it is <see cref="EdgeCacheClient.GetPurgeAsync"/>'s).
    /// False: only accepted and stored in the stream; <see cref="Complete"/> is then unknown (false).</summary>
    public bool Waited { get; init; }

    /// <summary>Every node live at publication applied it, and every application instance registered under the key (or it dropped out).</summary>
    public bool Complete { get; init; }

    /// <summary>The nodes that applied it, each with the time from publication to its acknowledgement.</summary>
    public IReadOnlyList<NodeAck> Acked { get; init; } = [];

    /// <summary>The nodes that had not applied it when the answer was made.</summary>
    public IReadOnlyList<string> Missing { get; init; } = [];

    /// <summary>The application instances registered under this key (the HybridCache backplane) that applied
    /// it, each with the time from publication to its acknowledgement.</summary>
    public IReadOnlyList<InstanceAck> InstancesAcked { get; init; } = [];

    /// <summary>The instances registered under this key that had not applied it when the answer was made.</summary>
    public IReadOnlyList<string> InstancesMissing { get; init; } = [];

    /// <summary>The instances that dropped out (their lease with the API ended, or they stopped) before applying it.</summary>
    public IReadOnlyList<string> InstancesLeft { get; init; } = [];

    /// <summary>The API answered with an earlier call's purge (its <c>Idempotent-Replayed</c> header):
    /// this call's key had been used, so no second event was published.</summary>
    public bool Replayed { get; init; }
}
