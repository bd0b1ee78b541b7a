using System.Text.Json;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace EdgeCache.FunctionalTests.Infrastructure;

/// <summary>What a project's image runs, by the assembly its Dockerfile publishes.</summary>
internal enum DeployRole
{
    Other,
    Edge,
    Shield,
    PurgeApi,
}

/// <summary>One instruction of a Dockerfile (continuation lines joined), with the WORKDIR in force.</summary>
internal sealed record DockerInstruction(int Line, string Keyword, string Arguments, string WorkDir);

/// <summary>
/// A Dockerfile of <c>deploy/docker</c>, read the way the build reads it: stages, COPY sources and
/// destinations, the projects <c>dotnet publish</c> builds, and the final stage's ENV, EXPOSE and
/// ENTRYPOINT. Images are built with the repository root as the context.
/// </summary>
internal sealed partial class DockerImageFile
{
    private DockerImageFile(string path, List<List<DockerInstruction>> stages)
    {
        Path = path;
        Stages = stages;
    }

    /// <summary>Repository-relative path of the Dockerfile.</summary>
    public string Path { get; }

    /// <summary>Instructions by stage (each stage starts with its FROM).</summary>
    public IReadOnlyList<List<DockerInstruction>> Stages { get; }

    public IEnumerable<DockerInstruction> All => Stages.SelectMany(s => s);

    public IReadOnlyList<DockerInstruction> Final => Stages[^1];

    /// <summary>The repository-relative project paths that <c>dotnet publish|restore|build</c> is run on.</summary>
    public IEnumerable<(DockerInstruction Run, string Verb, string Project)> DotnetCommands =>
        from run in All
        where run.Keyword == "RUN"
        from Match m in DotnetCommand().Matches(run.Arguments)
        select (run, m.Groups["verb"].Value, Normalize(PosixCombine(run.WorkDir, m.Groups["path"].Value), run.WorkDir));

    /// <summary>The project the image publishes (the last <c>dotnet publish</c>).</summary>
    public string? PublishedProject => DotnetCommands.LastOrDefault(c => c.Verb == "publish").Project;

    public string? AssemblyName => PublishedProject is { } p ? ProjectAssemblyName(p) : null;

    public DeployRole Role => AssemblyName switch
    {
        "EdgeCache.Edge" => DeployRole.Edge,
        "EdgeCache.Shield" => DeployRole.Shield,
        "EdgeCache.Invalidation" => DeployRole.PurgeApi,
        _ => DeployRole.Other,
    };

    /// <summary>The final stage's environment (ENV), in order.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Environment =>
        [.. Final.Where(i => i.Keyword == "ENV").SelectMany(i => ParseEnv(i.Arguments))];

    public IReadOnlyList<int> Exposed =>
        [.. Final.Where(i => i.Keyword == "EXPOSE").SelectMany(i => i.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Select(p => int.Parse(p.Split('/')[0], System.Globalization.CultureInfo.InvariantCulture))];

    public IReadOnlyList<string>? Entrypoint =>
        Final.LastOrDefault(i => i.Keyword == "ENTRYPOINT") is { } e && e.Arguments.StartsWith('[')
            ? JsonSerializer.Deserialize<string[]>(e.Arguments)
            : null;

    /// <summary>COPY instructions from the build context (not <c>--from</c> another stage): sources and destination.</summary>
    public IEnumerable<(DockerInstruction Copy, IReadOnlyList<string> Sources, string Destination)> ContextCopies
    {
        get
        {
            foreach (var copy in All.Where(i => i.Keyword is "COPY" or "ADD"))
            {
                var words = copy.Arguments.StartsWith('[')
                    ? JsonSerializer.Deserialize<string[]>(copy.Arguments)!
                    : copy.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (words.Any(w => w.StartsWith("--from", StringComparison.Ordinal))) continue;
                var rest = words.Where(w => !w.StartsWith("--", StringComparison.Ordinal)).ToArray();
                yield return (copy, rest[..^1], rest[^1]);
            }
        }
    }

    /// <summary>Where a repository file lands in the build stage's file system, or null when no COPY brings it.</summary>
    public string? ImagePathOf(string relative)
    {
        string? found = null;
        foreach (var (copy, sources, destination) in ContextCopies)
        {
            var dest = PosixCombine(copy.WorkDir, destination);
            var intoFolder = destination.EndsWith('/') || destination is "." || sources.Count > 1;
            foreach (var source in sources.Select(ContextRelative))
            {
                if (source.Length == 0) found = PosixCombine(dest, relative);
                else if (relative == source) found = intoFolder ? PosixCombine(dest, System.IO.Path.GetFileName(relative)) : dest;
                else if (relative.StartsWith(source + "/", StringComparison.Ordinal)) found = PosixCombine(dest, relative[(source.Length + 1)..]);
            }
        }

        return found;
    }

    public static IReadOnlyList<DockerImageFile> LoadAll() =>
        [.. RepositoryFiles.Deploy(".Dockerfile").Select(Load)];

    public static DockerImageFile Load(string relative)
    {
        var stages = new List<List<DockerInstruction>>();
        var lines = RepositoryFiles.Read(relative).Split('\n');
        var workDir = "/";
        for (var i = 0; i < lines.Length; i++)
        {
            var start = i;
            var text = lines[i].Trim();
            if (text.Length == 0 || text.StartsWith('#')) continue;
            while (text.EndsWith('\\') && i + 1 < lines.Length)
            {
                i++;
                var next = lines[i].Trim();
                if (next.StartsWith('#')) continue;
                text = text[..^1].TrimEnd() + " " + next;
            }

            var space = text.IndexOf(' ', StringComparison.Ordinal);
            var keyword = (space < 0 ? text : text[..space]).ToUpperInvariant();
            var arguments = space < 0 ? "" : text[(space + 1)..].Trim();
            if (keyword == "FROM")
            {
                stages.Add([]);
                workDir = "/";
            }
            else if (keyword == "WORKDIR")
            {
                workDir = PosixCombine(workDir, arguments);
            }

            Assert.True(stages.Count > 0, $"{relative}:{start + 1}: {keyword} before the first FROM");
            stages[^1].Add(new DockerInstruction(start + 1, keyword, arguments, workDir));
        }

        Assert.True(stages.Count > 0, $"{relative}: no FROM");
        return new DockerImageFile(relative, stages);
    }

    /// <summary>The image file of a Kubernetes image name: <c>edgecache/edge:tag</c> is built from <c>deploy/docker/edge.Dockerfile</c>.</summary>
    public static string? ForImageName(string image)
    {
        var name = image.Split('@')[0];
        var slash = name.LastIndexOf('/');
        var colon = name.LastIndexOf(':');
        if (colon > slash) name = name[..colon];
        return name.StartsWith("edgecache/", StringComparison.Ordinal) ? $"deploy/docker/{name["edgecache/".Length..]}.Dockerfile" : null;
    }

    /// <summary>A project's assembly name: its AssemblyName property or its file name.</summary>
    public static string ProjectAssemblyName(string project)
    {
        var xml = XDocument.Load(RepositoryFiles.Full(project));
        return xml.Descendants("AssemblyName").Select(e => e.Value.Trim()).LastOrDefault()
            ?? System.IO.Path.GetFileNameWithoutExtension(project);
    }

    /// <summary>
    /// The repository files a project needs to build: its folder, the folders of the projects it
    /// references (transitively), files it includes from outside its folder, and the MSBuild and SDK
    /// files (<c>Directory.*.props/targets</c>, <c>global.json</c>) above each of them.
    /// </summary>
    public static SortedSet<string> FilesNeededToBuild(string project)
    {
        var needed = new SortedSet<string>(StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var queue = new Queue<string>([project]);
        while (queue.TryDequeue(out var current))
        {
            if (!seen.Add(current)) continue;
            var folder = System.IO.Path.GetDirectoryName(current)!.Replace('\\', '/');
            foreach (var f in RepositoryFiles.Source(folder)) needed.Add(f);
            for (var dir = folder; ; dir = System.IO.Path.GetDirectoryName(dir)!.Replace('\\', '/'))
            {
                foreach (var name in new[] { "Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props", "global.json", "NuGet.config" })
                {
                    var candidate = dir.Length == 0 ? name : dir + "/" + name;
                    if (File.Exists(RepositoryFiles.Full(candidate))) needed.Add(candidate);
                }

                if (dir.Length == 0) break;
            }

            var xml = XDocument.Load(RepositoryFiles.Full(current));
            foreach (var item in xml.Descendants().Where(e => e.Attribute("Include") is not null))
            {
                var include = item.Attribute("Include")!.Value.Replace('\\', '/');
                if (include.Contains('*', StringComparison.Ordinal) || include.Contains('$', StringComparison.Ordinal)) continue;
                var path = Normalize(folder + "/" + include, "/");
                if (item.Name.LocalName == "ProjectReference") queue.Enqueue(path);
                else if (item.Name.LocalName is "Compile" or "Content" or "None" or "EmbeddedResource" && !path.StartsWith(folder + "/", StringComparison.Ordinal)) needed.Add(path);
            }
        }

        return needed;
    }

    /// <summary>A COPY source as a repository-relative path ("" for the whole context).</summary>
    private static string ContextRelative(string source)
    {
        var s = source.TrimEnd('/');
        while (s.StartsWith("./", StringComparison.Ordinal)) s = s[2..];
        return s is "." ? "" : s.TrimStart('/');
    }

    private static IEnumerable<KeyValuePair<string, string>> ParseEnv(string arguments)
    {
        var words = arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (words.Length > 0 && !words[0].Contains('=', StringComparison.Ordinal))
        {
            // Legacy form: ENV KEY value with spaces.
            yield return new(words[0], arguments[words[0].Length..].Trim());
            yield break;
        }

        foreach (var word in words)
        {
            var eq = word.IndexOf('=', StringComparison.Ordinal);
            yield return new(word[..eq], word[(eq + 1)..].Trim('"'));
        }
    }

    /// <summary>Joins POSIX paths; an absolute second part replaces the first.</summary>
    public static string PosixCombine(string a, string b) =>
        b.StartsWith('/') ? Normalize(b, "/") : Normalize(a.TrimEnd('/') + "/" + b, "/");

    /// <summary>Removes <c>.</c> and <c>..</c> segments; an absolute path stays absolute, a path under
    /// <paramref name="root"/> (the WORKDIR that mirrors the repository root) becomes repository-relative.</summary>
    private static string Normalize(string path, string root)
    {
        var parts = new List<string>();
        foreach (var part in path.Split('/'))
        {
            if (part is "" or ".") continue;
            if (part == ".." && parts.Count > 0) parts.RemoveAt(parts.Count - 1);
            else parts.Add(part);
        }

        var joined = string.Join('/', parts);
        if (root != "/")
        {
            var r = root.Trim('/');
            return joined.StartsWith(r + "/", StringComparison.Ordinal) ? joined[(r.Length + 1)..] : joined;
        }

        return path.StartsWith('/') ? "/" + joined : joined;
    }

    [GeneratedRegex(@"\bdotnet\s+(?<verb>publish|restore|build)\s+(?:-\S+\s+)*(?<path>[^\s-]\S*)")]
    private static partial Regex DotnetCommand();
}
