using System.Text.RegularExpressions;

namespace EdgeCache.FunctionalTests.Infrastructure;

/// <summary>A System.Diagnostics.Metrics instrument as the code creates it.</summary>
internal sealed record Instrument(string Name, string Kind, string? Unit, string File)
{
    /// <summary>
    /// The names OpenTelemetry's Prometheus exporter gives it: dots as underscores, the unit as a
    /// suffix (By → _bytes, s → _seconds; annotations such as {request} add none), _total on counters,
    /// _bucket/_sum/_count on histograms.
    /// </summary>
    public IEnumerable<string> ExportedNames
    {
        get
        {
            var name = Name.Replace('.', '_');
            var suffix = Unit switch
            {
                null or "" => "",
                "By" => "_bytes",
                "s" => "_seconds",
                "ms" => "_milliseconds",
                "1" => "_ratio",
                _ when Unit.StartsWith('{') => "",
                _ => "_" + Unit,
            };
            if (!name.EndsWith(suffix, StringComparison.Ordinal)) name += suffix;
            return Kind switch
            {
                "Counter" or "ObservableCounter" => [name + "_total"],
                "Histogram" => [name + "_bucket", name + "_sum", name + "_count"],
                _ => [name],
            };
        }
    }
}

/// <summary>The instruments and tag names the libraries create, read from their source.</summary>
internal static partial class Instruments
{
    /// <summary>.NET's own instruments the nodes export (meters Microsoft.AspNetCore.Hosting and System.Net.Http).</summary>
    public static readonly Instrument[] Platform =
    [
        new("http.server.request.duration", "Histogram", "s", "Microsoft.AspNetCore.Hosting"),
        new("http.client.request.duration", "Histogram", "s", "System.Net.Http"),
    ];

    /// <summary>Labels of <see cref="Platform"/> (OpenTelemetry semantic conventions) and those Prometheus and the exporter add.</summary>
    public static readonly string[] PlatformLabels =
    [
        "instance", "job", "le", "otel_scope_name", "http_request_method", "http_response_status_code", "http_route",
        "network_protocol_version", "url_scheme", "server_address", "server_port", "error_type",
    ];

    public static IReadOnlyList<Instrument> InLibraries()
    {
        var found = new List<Instrument>();
        foreach (var file in RepositoryFiles.Source("libs", "*.cs"))
        {
            var text = RepositoryFiles.Read(file);
            foreach (Match m in Create().Matches(text))
            {
                var args = Arguments(text, m.Index + m.Length);
                var kind = m.Groups["kind"].Value;
                var unitIndex = kind.StartsWith("Observable", StringComparison.Ordinal) ? 2 : 1;
                var unit = args.FirstOrDefault(a => a.StartsWith("unit:", StringComparison.Ordinal))?["unit:".Length..].Trim()
                    ?? (args.Count > unitIndex && !args[unitIndex].Contains(':', StringComparison.Ordinal) ? args[unitIndex] : null);
                Assert.True(args.Count > 0 && args[0].StartsWith('"'), $"{file}: an instrument whose name is not a string literal: {m.Value}{string.Join(", ", args)}");
                found.Add(new Instrument(args[0].Trim('"'), kind, unit is null or "null" ? null : unit.Trim('"'), file));
            }
        }

        return found;
    }

    /// <summary>Tag names the libraries attach to measurements (as Prometheus labels: dots as underscores).</summary>
    public static IReadOnlySet<string> TagLabels()
    {
        var tags = new HashSet<string>(StringComparer.Ordinal);
        foreach (var file in RepositoryFiles.Source("libs", "*.cs"))
        {
            foreach (Match m in Tag().Matches(RepositoryFiles.Read(file))) tags.Add(m.Groups["tag"].Value.Replace('.', '_'));
        }

        return tags;
    }

    /// <summary>The top-level arguments of a call, from just after its opening parenthesis.</summary>
    private static List<string> Arguments(string text, int start)
    {
        var args = new List<string>();
        var depth = 0;
        var current = start;
        for (var i = start; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '"')
            {
                for (i++; i < text.Length && text[i] != '"'; i++)
                {
                    if (text[i] == '\\') i++;
                }
            }
            else if (c is '(' or '[' or '{')
            {
                depth++;
            }
            else if (c is ')' or ']' or '}')
            {
                if (depth == 0)
                {
                    args.Add(text[current..i].Trim());
                    return args;
                }

                depth--;
            }
            else if (c == ',' && depth == 0)
            {
                args.Add(text[current..i].Trim());
                current = i + 1;
            }
        }

        return args;
    }

    [GeneratedRegex(@"\.Create(?<kind>ObservableCounter|ObservableGauge|ObservableUpDownCounter|UpDownCounter|Counter|Histogram|Gauge)\s*(?:<[^<>()]*>)?\s*\(")]
    private static partial Regex Create();

    [GeneratedRegex(@"(?:KeyValuePair<string,\s*object\?>\(|\.Add\(|\{)\s*""(?<tag>[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)*)""\s*,")]
    private static partial Regex Tag();
}
