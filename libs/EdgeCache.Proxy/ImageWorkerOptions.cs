namespace EdgeCache.Proxy;

/// <summary>
/// The image worker processes a node starts to make image variants (<c>EdgeCache:ImageWorkers</c>):
/// each runs one transformation at a time; they start on first use and again after one dies or is
/// killed for overrunning its host's <c>Images:Timeout</c>.
/// </summary>
public sealed class ImageWorkerOptions
{
    /// <summary>Worker processes, so transformations running at once. Default 2.</summary>
    public int Count { get; set; } = 2;

    /// <summary>The worker to start: an executable, or a <c>.dll</c> run with the <c>dotnet</c> host. Default
    /// <c>EdgeCache.ImageWorker</c> beside this node's own assemblies.</summary>
    public string? Path { get; set; }

    /// <summary>Longest a transformation waits for a free worker before the original is served (<c>busy</c>). Default 2 s.</summary>
    public TimeSpan QueueTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Longest a new worker may take to start and say it is ready (a job's time limit starts after that).
    /// One that takes longer is killed and the job is refused (<c>worker-crashed</c>). Default 10 s.</summary>
    public TimeSpan StartTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Returns the first problem with these settings, or null.</summary>
    public string? Validate()
    {
        if (Count is < 1 or > 64) return $"Count must be 1-64 (got {Count})";
        if (QueueTimeout < TimeSpan.Zero) return "QueueTimeout must not be negative";
        if (StartTimeout <= TimeSpan.Zero) return "StartTimeout must be positive";
        if (Path is { } p && !File.Exists(p)) return $"Path '{p}' does not exist";
        return null;
    }
}
