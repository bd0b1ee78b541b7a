namespace EdgeCache.Proxy;

/// <summary>
/// The image worker processes a node starts to make image variants (<c>EdgeCache:ImageWorkers</c>):
/// each runs one transformation at a time; they start on first use and again after one dies or is
/// killed for overrunning its host's <c>Images:Timeout</c>.
/// </summary>
public sealed class ImageWorkerOptions
{
    /// <summary>Worker processes, so transformations running at once. Default the machine's processor count
    /// (<see cref="Environment.ProcessorCount"/>, at most 64): with <see cref="Threads"/> 1, one worker per core.</summary>
    public int Count { get; set; } = Math.Clamp(Environment.ProcessorCount, 1, 64);

    /// <summary>Threads in each worker's libvips pool (<c>VIPS_CONCURRENCY</c>). Default 1: a variant's JPEG decode
    /// and WebP encode, most of its time, run on one thread whatever the pool, so with one worker per core more
    /// threads only add hand-offs. More helps large outputs (a resize's own work) on a node with spare cores.</summary>
    public int Threads { get; set; } = 1;

    /// <summary>The WebP encoder's effort, 0 (fastest) to 6. Default 2. At 400 px from a 2000x1500 photo, 0 saves about
    /// 3 ms of a variant's 20 for 11-13% more bytes at the same quality (SSIM 0.002-0.004 higher); 4 costs 8 ms for 6% fewer.</summary>
    public int WebpEffort { get; set; } = 2;

    /// <summary>The AVIF encoder's (aom) effort, 0 (fastest) to 9. Default 2.</summary>
    public int AvifEffort { get; set; } = 2;

    /// <summary>The worker to start: an executable, or a <c>.dll</c> run with the <c>dotnet</c> host. Default
    /// <c>EdgeCache.ImageWorker</c> beside this node's own assemblies.</summary>
    public string? Path { get; set; }

    /// <summary>Longest a transformation waits for a free worker before the original is served (<c>busy</c>). Default 2 s.</summary>
    public TimeSpan QueueTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Longest a new worker may take to start and say it is ready (a job's time limit starts after that).
    /// One that takes longer is killed and the job is refused (<c>worker-crashed</c>). Default 10 s.</summary>
    public TimeSpan StartTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The least <see cref="MemoryLimitBytes"/> may be: a worker uses about 100 MiB of its own (the runtime, libvips and its codecs).</summary>
    public const long MinMemoryLimitBytes = 128L * 1024 * 1024;

    /// <summary>Memory each worker process may use, its own included (its data segment and private writable
    /// mappings: <c>RLIMIT_DATA</c>, set by the worker on itself, and the .NET GC's heap hard limit). A job that
    /// needs more is refused (<c>memory</c>, or <c>worker-crashed</c> if an allocation fails where nothing can
    /// catch it) and the original served; the node is never at risk. 0: no limit. Default 1 GiB.</summary>
    public long MemoryLimitBytes { get; set; } = 1L << 30;

    /// <summary>Returns the first problem with these settings, or null.</summary>
    public string? Validate()
    {
        if (Count is < 1 or > 64) return $"Count must be 1-64 (got {Count})";
        if (Threads is < 1 or > 64) return $"Threads must be 1-64 (got {Threads})";
        if (WebpEffort is < 0 or > 6) return $"WebpEffort must be 0-6 (got {WebpEffort})";
        if (AvifEffort is < 0 or > 9) return $"AvifEffort must be 0-9 (got {AvifEffort})";
        if (QueueTimeout < TimeSpan.Zero) return "QueueTimeout must not be negative";
        if (StartTimeout <= TimeSpan.Zero) return "StartTimeout must be positive";
        if (MemoryLimitBytes != 0 && MemoryLimitBytes < MinMemoryLimitBytes) return $"MemoryLimitBytes must be 0 (no limit) or at least {MinMemoryLimitBytes} (128 MiB: a worker uses about 100 MiB of its own), got {MemoryLimitBytes}";
        if (Path is { } p && !File.Exists(p)) return $"Path '{p}' does not exist";
        return null;
    }
}
