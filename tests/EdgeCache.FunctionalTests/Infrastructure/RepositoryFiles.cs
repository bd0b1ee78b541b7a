namespace EdgeCache.FunctionalTests.Infrastructure;

/// <summary>The repository's files, found by walking up from the test binaries to EdgeCache.sln.</summary>
internal static class RepositoryFiles
{
    private static readonly Lazy<string> LazyRoot = new(FindRoot);

    public static string Root => LazyRoot.Value;

    /// <summary>The absolute path of a repository-relative path (forward slashes).</summary>
    public static string Full(string relative) => Path.GetFullPath(Path.Combine(Root, relative));

    /// <summary>The repository-relative path (forward slashes) of an absolute path.</summary>
    public static string Relative(string full) => Path.GetRelativePath(Root, full).Replace('\\', '/');

    public static string Read(string relative) => File.ReadAllText(Full(relative));

    /// <summary>Files under <c>deploy/</c> with one of the extensions, except what the local CDN writes
    /// while it runs (<c>deploy/local/run</c>, <c>deploy/local/data</c>, both git-ignored).</summary>
    public static IReadOnlyList<string> Deploy(params string[] extensions) =>
        [.. Directory.EnumerateFiles(Full("deploy"), "*", SearchOption.AllDirectories)
            .Select(Relative)
            .Where(f => !f.StartsWith("deploy/local/run/", StringComparison.Ordinal) && !f.StartsWith("deploy/local/data/", StringComparison.Ordinal))
            .Where(f => extensions.Any(e => f.EndsWith(e, StringComparison.OrdinalIgnoreCase)))
            .Order(StringComparer.Ordinal)];

    /// <summary>Files under a repository folder, without build output (<c>bin/</c>, <c>obj/</c>).</summary>
    public static IReadOnlyList<string> Source(string folder, string pattern = "*") =>
        [.. Directory.EnumerateFiles(Full(folder), pattern, SearchOption.AllDirectories)
            .Select(Relative)
            .Where(f => !f.Contains("/bin/", StringComparison.Ordinal) && !f.Contains("/obj/", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)];

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "EdgeCache.sln"))) return dir.FullName;
        }

        throw new InvalidOperationException("EdgeCache.sln was not found in any folder above " + AppContext.BaseDirectory);
    }
}
