using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using EdgeCache.FunctionalTests.Infrastructure;
using EdgeCache.Proxy;
using EdgeCache.PurgeApi;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EdgeCache.FunctionalTests;

/// <summary>
/// The files under deploy/ cannot be run here (no Docker engine, no cluster), so this reads them and
/// checks them against the code: they parse, the images build from what they copy, every setting they
/// give names a real option and passes start-up validation, ports, probes and scrapes reach what the
/// processes serve, edges find the shields by the ids the hash uses, and the dashboard queries metrics
/// the nodes export.
/// </summary>
public sealed class DeploymentFilesTests
{
    private const string DevelopmentKey = "dev-purge-key-change-me";

    /// <summary>The placeholder secret.yaml ships: the purge API refuses to start until it is replaced.</summary>
    private const string KeyPlaceholder = "REPLACE-WITH-SHA256-OF-KEY";

    private static IReadOnlyList<DeployedContainer> AllContainers() => [.. ComposeDeployment.Containers(), .. KubernetesDeployment.Containers()];

    private static void AssertNone(List<string> problems, string what) =>
        Assert.True(problems.Count == 0, $"{what}:\n  " + string.Join("\n  ", problems));

    [Fact]
    public void Every_YAML_file_under_deploy_parses_and_so_does_the_JSON_that_ConfigMaps_carry()
    {
        var files = RepositoryFiles.Deploy(".yml", ".yaml");
        Assert.Contains(ComposeDeployment.File, files);
        Assert.Contains(KubernetesDeployment.Folder + "/kustomization.yaml", files);
        var problems = new List<string>();
        foreach (var file in files)
        {
            try
            {
                var documents = YamlTree.Load(RepositoryFiles.Read(file));
                if (documents.Count == 0 || documents.Any(d => d is null)) problems.Add($"{file}: an empty document");
                foreach (var map in documents.OfType<JsonObject>().Where(d => d.Text("kind") == "ConfigMap"))
                {
                    foreach (var (key, value) in map["data"].Members().Where(m => m.Key.EndsWith(".json", StringComparison.Ordinal)))
                    {
                        try
                        {
                            using var _ = JsonDocument.Parse(value.Text() ?? "");
                        }
                        catch (JsonException e)
                        {
                            problems.Add($"{file}: ConfigMap {map.Path("metadata", "name").Text()} key {key}: {e.Message}");
                        }
                    }
                }
            }
            catch (YamlDotNet.Core.YamlException e)
            {
                problems.Add($"{file}: {e.Message}");
            }
        }

        AssertNone(problems, "YAML that does not parse");
    }

    [Fact]
    public void Every_JSON_file_under_deploy_parses()
    {
        var files = RepositoryFiles.Deploy(".json");
        Assert.Contains("deploy/grafana/edgecache-dashboard.json", files);
        var problems = new List<string>();
        foreach (var file in files)
        {
            try
            {
                using var _ = JsonDocument.Parse(RepositoryFiles.Read(file));
            }
            catch (JsonException e)
            {
                problems.Add($"{file}: {e.Message}");
            }
        }

        AssertNone(problems, "JSON that does not parse");
    }

    [Fact]
    public void Every_Dockerfile_copies_what_its_project_needs_and_runs_what_it_publishes()
    {
        var images = DockerImageFile.LoadAll();
        Assert.Contains(images, i => i.Role == DeployRole.Edge);
        Assert.Contains(images, i => i.Role == DeployRole.Shield);
        Assert.Contains(images, i => i.Role == DeployRole.PurgeApi);
        var problems = new List<string>();
        foreach (var image in images)
        {
            foreach (var (copy, sources, _) in image.ContextCopies)
            {
                foreach (var source in sources.Where(s => !File.Exists(RepositoryFiles.Full(s)) && !Directory.Exists(RepositoryFiles.Full(s))))
                {
                    problems.Add($"{image.Path}:{copy.Line}: COPY source '{source}' does not exist in the repository");
                }
            }

            var commands = image.DotnetCommands.ToList();
            if (!commands.Any(c => c.Verb == "publish")) problems.Add($"{image.Path}: no 'dotnet publish'");
            foreach (var (run, verb, project) in commands)
            {
                if (!File.Exists(RepositoryFiles.Full(project)))
                {
                    problems.Add($"{image.Path}:{run.Line}: 'dotnet {verb}' names {project}, which does not exist");
                    continue;
                }

                // The build stage must hold every file the project builds from, where the repository has it.
                foreach (var needed in DockerImageFile.FilesNeededToBuild(project))
                {
                    var expected = DockerImageFile.PosixCombine(run.WorkDir, needed);
                    var actual = image.ImagePathOf(needed);
                    if (actual != expected) problems.Add($"{image.Path}:{run.Line}: building {project} needs {needed} at {expected}, but " + (actual is null ? "no COPY brings it" : $"it is copied to {actual}"));
                }
            }

            if (image.AssemblyName is { } assembly && !(image.Entrypoint is ["dotnet", var dll] && dll == assembly + ".dll"))
            {
                problems.Add($"{image.Path}: ENTRYPOINT {string.Join(' ', image.Entrypoint ?? [])} does not run {image.AssemblyName}.dll, the assembly it publishes");
            }

            // What the image listens on (its own ENV) is what it exposes, on every interface.
            var alone = new DeployedContainer { Platform = "image", Name = image.Path, Source = image.Path, Image = image, DeclaredEnvironment = [], Ports = [], NamedPorts = new Dictionary<string, int>(), Probes = [], Scrapes = [] };
            var listens = alone.Listens();
            var ports = listens.Select(l => DeployedContainer.PortOf(l.Url)).Distinct().Order().ToList();
            if (!ports.SequenceEqual(image.Exposed.Distinct().Order())) problems.Add($"{image.Path}: EXPOSE {string.Join(' ', image.Exposed)} but the process listens on {string.Join(", ", listens.Select(l => l.Url))}");
            problems.AddRange(listens.Where(l => !BindsEveryInterface(l.Url)).Select(l => $"{image.Path}: the {l.Kind} endpoint {l.Url} does not bind every interface, so nothing outside the container reaches it"));
        }

        AssertNone(problems, "Dockerfiles that would not build or run what they should");
    }

    [Fact]
    public void Compose_and_Kubernetes_use_the_images_built_here_and_files_that_exist()
    {
        var problems = new List<string>();
        foreach (var (name, service) in ComposeDeployment.Services())
        {
            if (ComposeDeployment.Build(service) is { } build)
            {
                if (build.Context != "") problems.Add($"{ComposeDeployment.File}: {name} builds with context '{build.Context}', not the repository root the Dockerfiles expect");
                if (!File.Exists(RepositoryFiles.Full(build.Dockerfile))) problems.Add($"{ComposeDeployment.File}: {name} builds {build.Dockerfile}, which does not exist");
            }
            else if (service.Text("image") is null)
            {
                problems.Add($"{ComposeDeployment.File}: {name} has neither build nor image");
            }

            foreach (var (source, target) in ComposeDeployment.BindMounts(service))
            {
                if (!File.Exists(RepositoryFiles.Full(source)) && !Directory.Exists(RepositoryFiles.Full(source))) problems.Add($"{ComposeDeployment.File}: {name} mounts {source} at {target}, and {source} does not exist");
            }
        }

        var resources = KubernetesDeployment.Resources();
        problems.AddRange(resources.Where(r => !File.Exists(RepositoryFiles.Full(r))).Select(r => $"kustomization.yaml lists {r}, which does not exist"));
        problems.AddRange(RepositoryFiles.Deploy(".yaml", ".yml").Where(f => f.StartsWith(KubernetesDeployment.Folder + "/", StringComparison.Ordinal) && !f.EndsWith("/kustomization.yaml", StringComparison.Ordinal) && !resources.Contains(f))
            .Select(f => $"{f} is not listed in kustomization.yaml, so 'kubectl apply -k' leaves it out"));
        foreach (var workload in KubernetesDeployment.Workloads(KubernetesDeployment.Objects()))
        {
            foreach (var container in workload.Document.Path("spec", "template", "spec").Items("containers"))
            {
                var image = container.Text("image") ?? "";
                if (DockerImageFile.ForImageName(image) is not { } file) problems.Add($"{workload}: image {image} is not one of the edgecache/* images deploy/docker builds");
                else if (!File.Exists(RepositoryFiles.Full(file))) problems.Add($"{workload}: image {image} should be built from {file}, which does not exist");
            }
        }

        problems.AddRange(AllContainers().Where(c => c.ConfigFileProblem is not null).Select(c => $"{c}: {c.ConfigFileProblem}"));
        problems.AddRange(AllContainers().SelectMany(c => c.DeclaredEnvironment.Where(e => e.Key.StartsWith('<')).Select(e => $"{c}: {e.Key}")));
        AssertNone(problems, "deployments that refer to images or files that do not exist");
    }

    [Fact]
    public void Every_EdgeCache_and_PurgeApi_setting_in_deploy_names_a_real_option()
    {
        var problems = new List<string>();
        var checkedNames = 0;
        void Check(string where, string key, string? value, char separator)
        {
            var segments = key.Split(separator == '_' ? "__" : ":");
            var root = segments[0].ToUpperInvariant() switch
            {
                "EDGECACHE" => typeof(EdgeCacheOptions),
                "PURGEAPI" => typeof(PurgeApiOptions),
                _ => null,
            };
            if (root is null)
            {
                if (separator == '_' && (key.StartsWith("EdgeCache", StringComparison.OrdinalIgnoreCase) || key.StartsWith("PurgeApi", StringComparison.OrdinalIgnoreCase)) && key != EdgeCacheNode.ConfigFileVariable)
                {
                    problems.Add($"{where}: {key} looks like a setting but does not use '__' between sections");
                }

                return;
            }

            checkedNames++;
            if (OptionPaths.Check(root, segments[1..], value) is { } problem) problems.Add($"{where}: {key}: {problem}");
        }

        foreach (var image in DockerImageFile.LoadAll())
        {
            foreach (var (k, v) in image.Environment) Check(image.Path, k, v, '_');
        }

        foreach (var container in AllContainers())
        {
            foreach (var (k, v) in container.DeclaredEnvironment) Check(container.ToString(), k, v, '_');
            if (container.ConfigFileText is { } text)
            {
                var json = new ConfigurationBuilder().AddJsonStream(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(text))).Build();
                foreach (var (k, v) in json.AsEnumerable().Where(kv => kv.Value is not null)) Check(container + " EDGECACHE_CONFIG_FILE", k, v, ':');
            }
        }

        foreach (var file in RepositoryFiles.Deploy(".json").Where(f => f.StartsWith(ComposeDeployment.Folder + "/", StringComparison.Ordinal)))
        {
            var json = new ConfigurationBuilder().AddJsonFile(RepositoryFiles.Full(file)).Build();
            foreach (var (k, v) in json.AsEnumerable().Where(kv => kv.Value is not null)) Check(file, k, v, ':');
        }

        Assert.True(checkedNames > 20, $"only {checkedNames} settings found: the files were not read");
        AssertNone(problems.Distinct().ToList(), "settings that name no option (the binder would ignore them)");
    }

    [Fact]
    public void Every_node_and_purge_API_configuration_passes_start_up_validation()
    {
        var problems = new List<string>();
        var containers = AllContainers();
        Assert.Contains(containers, c => c.Platform == "compose" && c.Role == DeployRole.Edge);
        Assert.Contains(containers, c => c.Platform == "kubernetes" && c.Role == DeployRole.Shield);
        foreach (var c in containers)
        {
            if (c.Role is DeployRole.Edge or DeployRole.Shield)
            {
                var result = new EdgeCacheOptionsValidator().Validate(null, c.NodeOptions());
                if (result.Failed) problems.AddRange(result.Failures.Select(f => $"{c}: {f}"));
            }
            else if (c.Role == DeployRole.PurgeApi)
            {
                var options = c.PurgeApiOptions();
                var placeholders = options.Keys.Select((k, i) => (k, i)).Where(x => x.k.Sha256 == KeyPlaceholder).Select(x => $"PurgeApi:Keys:{x.i}:Sha256 must").ToList();
                if (placeholders.Count > 0 && c.Platform != "kubernetes") problems.Add($"{c}: the placeholder key hash belongs in the Kubernetes Secret only");
                problems.AddRange(options.Validate().Where(f => !placeholders.Any(p => f.StartsWith(p, StringComparison.Ordinal))).Select(f => $"{c}: {f}"));
            }
        }

        AssertNone(problems, "configurations the processes would refuse at start-up");
    }

    [Fact]
    public async Task Ports_probes_and_scrapes_reach_the_endpoints_the_processes_listen_on_and_serve()
    {
        var containers = AllContainers();
        var problems = new List<string>();
        await using var served = new ServedPaths();
        foreach (var c in containers.Where(c => c.Role is not DeployRole.Other))
        {
            var listens = c.Listens();
            problems.AddRange(listens.Where(l => !BindsEveryInterface(l.Url)).Select(l => $"{c}: the {l.Kind} endpoint {l.Url} does not bind every interface"));
            var listened = listens.Select(l => DeployedContainer.PortOf(l.Url)).ToHashSet();
            problems.AddRange(c.Ports.Where(p => !listened.Contains(p)).Select(p => $"{c}: declares port {p}, but the process listens on {string.Join(", ", listens.Select(l => l.Url))}"));
            if (c.Platform == "kubernetes")
            {
                problems.AddRange(listened.Where(p => !c.Ports.Contains(p)).Select(p => $"{c}: listens on {p}, which the pod spec does not declare"));
            }

            // Probes and scrapes go to the admin endpoint of a node (the purge API has one endpoint).
            var adminPort = listens.Where(l => l.Kind is "admin" or "http").Select(l => (int?)DeployedContainer.PortOf(l.Url)).FirstOrDefault();
            if (c.Role is DeployRole.Edge or DeployRole.Shield && adminPort is null) problems.Add($"{c}: the admin endpoint is off, so probes and Prometheus cannot reach it");
            foreach (var check in c.Probes.Concat(c.Scrapes))
            {
                var port = c.ResolvePort(check.Port);
                if (port is null || port != adminPort)
                {
                    problems.Add($"{c}: {check.What} uses port {check.Port}{(port is null ? " (no such port)" : $" = {port}")}, but the {(c.Role == DeployRole.PurgeApi ? "API" : "admin endpoint")} is on {adminPort}");
                }

                var status = await served.GetAsync(c, check.Path);
                var ok = check.What.Contains("prometheus", StringComparison.OrdinalIgnoreCase) ? status == HttpStatusCode.OK : status != HttpStatusCode.NotFound;
                if (!ok) problems.Add($"{c}: {check.What} requests {check.Path}, which the {c.Role} answers with {(int)status}");
            }

            // Edges' active health checks of the shields request a path on the shields' admin endpoint.
            if (c.Role == DeployRole.Edge)
            {
                var config = c.Configuration();
                var shield = containers.First(s => s.Platform == c.Platform && s.Role == DeployRole.Shield);
                foreach (var cluster in config.GetSection("ReverseProxy:Clusters").GetChildren())
                {
                    if (cluster["HealthCheck:Active:Path"] is { } path && await served.GetAsync(shield, path) is var status && status == HttpStatusCode.NotFound)
                    {
                        problems.Add($"{c}: cluster {cluster.Key} health-checks {path}, which a shield's admin endpoint answers with 404");
                    }
                }
            }
        }

        Assert.Contains(containers, c => c.Role == DeployRole.Edge && c.Probes.Any(p => p.Path == "/readyz") && c.Probes.Any(p => p.Path == "/healthz"));
        Assert.Contains(containers, c => c.Role == DeployRole.Shield && c.Scrapes.Count > 0);
        AssertNone(problems, "ports, probes or scrapes that miss what the processes serve");
    }

    [Fact]
    public void Edges_discover_the_shields_by_the_ids_the_hash_uses_with_the_same_shields_as_the_static_fallback()
    {
        var problems = new List<string>();
        foreach (var platform in AllContainers().GroupBy(c => c.Platform))
        {
            var shields = platform.Where(c => c.Role == DeployRole.Shield).ToList();
            var edges = platform.Where(c => c.Role == DeployRole.Edge).ToList();
            Assert.True(shields.Count >= 2 && edges.Count >= 2, $"{platform.Key}: expected at least two shields and two edges");
            var announced = new Dictionary<string, (string Traffic, string Admin)>(StringComparer.Ordinal);
            foreach (var shield in shields)
            {
                var o = shield.NodeOptions();
                if (o.Listen.AdvertiseTraffic is null || o.Listen.AdvertiseAdmin is null)
                {
                    problems.Add($"{shield}: EdgeCache:Listen:AdvertiseTraffic and AdvertiseAdmin must be set: it binds 0.0.0.0, which edges cannot use");
                    continue;
                }

                var traffic = new Uri(o.Listen.AdvertiseTraffic);
                var admin = new Uri(o.Listen.AdvertiseAdmin);
                announced[o.NodeId] = (o.Listen.AdvertiseTraffic, o.Listen.AdvertiseAdmin);
                if (shield.HostName is null) problems.Add($"{shield}: has no stable DNS name (a StatefulSet pod through a headless Service)");
                foreach (var (what, uri, port) in new[] { ("AdvertiseTraffic", traffic, DeployedContainer.PortOf(o.Listen.Traffic[0])), ("AdvertiseAdmin", admin, DeployedContainer.PortOf(o.Listen.Admin)) })
                {
                    if (!string.Equals(uri.Host, shield.HostName, StringComparison.OrdinalIgnoreCase)) problems.Add($"{shield}: {what} {uri} is not at its DNS name {shield.HostName}");
                    if (uri.Port != port) problems.Add($"{shield}: {what} {uri} is not on the port it listens on ({port})");
                }

                if (shield.Platform == "kubernetes" && o.NodeId != shield.Name) problems.Add($"{shield}: NodeId is '{o.NodeId}', not the pod name, so the hash would change when the pod moves");
            }

            foreach (var edge in edges)
            {
                var o = edge.NodeOptions();
                if (!o.ShieldDiscovery.Enabled || !o.Invalidation.Enabled) problems.Add($"{edge}: EdgeCache:ShieldDiscovery:Enabled needs to be true, with Invalidation:NatsUrl set");
                var cluster = edge.Configuration().GetSection("ReverseProxy:Clusters:" + o.ShieldDiscovery.Cluster);
                if (!cluster.Exists())
                {
                    problems.Add($"{edge}: no ReverseProxy cluster '{o.ShieldDiscovery.Cluster}' (ShieldDiscovery:Cluster) to fall back on");
                    continue;
                }

                if (cluster["LoadBalancingPolicy"] != ConsistentHashLoadBalancingPolicy.PolicyName) problems.Add($"{edge}: cluster {cluster.Key} does not use {ConsistentHashLoadBalancingPolicy.PolicyName}");
                if (!string.Equals(cluster["HealthCheck:Active:Enabled"], "true", StringComparison.OrdinalIgnoreCase)) problems.Add($"{edge}: cluster {cluster.Key} has no active health checks");
                var destinations = cluster.GetSection("Destinations").GetChildren().ToDictionary(d => d.Key, StringComparer.Ordinal);
                if (!destinations.Keys.Order(StringComparer.Ordinal).SequenceEqual(announced.Keys.Order(StringComparer.Ordinal)))
                {
                    problems.Add($"{edge}: the static destinations ({string.Join(", ", destinations.Keys)}) are not the shields' NodeIds ({string.Join(", ", announced.Keys)}), so the hash would move between static and discovered shields");
                }

                // Character for character: discovery uses the announced URLs as they are, and YARP
                // compares destinations as strings, so any difference would reset their health state.
                foreach (var (id, d) in destinations)
                {
                    if (!announced.TryGetValue(id, out var a)) continue;
                    if (d["Address"] != a.Traffic) problems.Add($"{edge}: destination {id} Address {d["Address"]} is not what {id} announces ({a.Traffic})");
                    if (d["Health"] != a.Admin) problems.Add($"{edge}: destination {id} Health {d["Health"]} is not what {id} announces ({a.Admin})");
                }
            }
        }

        AssertNone(problems, "shield discovery and the static shield list disagree");
    }

    [Fact]
    public void Nodes_and_the_purge_API_share_one_NATS_server_stream_and_membership_bucket()
    {
        var problems = new List<string>();
        var compose = ComposeDeployment.Document()["services"];
        foreach (var platform in AllContainers().GroupBy(c => c.Platform))
        {
            var settings = platform.Where(c => c.Role != DeployRole.Other)
                .Select(c => (Container: c, Options: c.Role == DeployRole.PurgeApi ? c.PurgeApiOptions().Nats : c.NodeOptions().Invalidation))
                .ToList();
            Assert.Contains(settings, s => s.Container.Role == DeployRole.PurgeApi);
            foreach (var (c, o) in settings)
            {
                if (!o.Enabled)
                {
                    problems.Add($"{c}: no NATS URL, so invalidation is off");
                    continue;
                }

                foreach (var (what, mine, first) in new[]
                {
                    ("NatsUrl", o.NatsUrl, settings[0].Options.NatsUrl),
                    ("Stream", o.Stream, settings[0].Options.Stream),
                    ("SubjectPrefix", o.SubjectPrefix, settings[0].Options.SubjectPrefix),
                    ("MembershipBucket", o.MembershipBucket, settings[0].Options.MembershipBucket),
                    ("Replicas", o.Replicas.ToString(System.Globalization.CultureInfo.InvariantCulture), settings[0].Options.Replicas.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                })
                {
                    if (mine != first) problems.Add($"{c}: {what} '{mine}' differs from {settings[0].Container.Name}'s '{first}'");
                }

                var host = new Uri(o.NatsUrl.Split(',')[0]).Host;
                if (platform.Key == "compose")
                {
                    var nats = compose?[host];
                    if (nats is null) problems.Add($"{c}: NATS host '{host}' is not a compose service");
                    else if (!nats.Items("command").Any(a => a.Text() is "-js" or "--jetstream")) problems.Add($"compose service {host} does not enable JetStream (-js)");
                }
                else if (!RepositoryFiles.Read(KubernetesDeployment.Folder + "/nats.md").Contains(o.NatsUrl, StringComparison.Ordinal))
                {
                    problems.Add($"{c}: NATS URL {o.NatsUrl} is not the one nats.md installs the chart at");
                }
            }
        }

        AssertNone(problems, "NATS settings that do not line up");
    }

    [Fact]
    public void The_purge_API_warms_with_a_tier_secret_every_node_accepts()
    {
        var problems = new List<string>();
        foreach (var platform in AllContainers().GroupBy(c => c.Platform))
        {
            var purge = platform.Single(c => c.Role == DeployRole.PurgeApi);
            var secret = purge.PurgeApiOptions().Warm.TierSecret;
            if (string.IsNullOrEmpty(secret))
            {
                problems.Add($"{purge}: no PurgeApi:Warm:TierSecret, so POST /warm answers 503");
                continue;
            }

            foreach (var node in platform.Where(c => c.Role is DeployRole.Edge or DeployRole.Shield))
            {
                if (!node.NodeOptions().TierSecrets.Contains(secret)) problems.Add($"{node}: its TierSecrets do not include the purge API's warm secret");
            }
        }

        AssertNone(problems, "warm secrets the tiers would refuse");
    }

    [Fact]
    public void The_compose_purge_API_has_the_documented_development_key()
    {
        var purge = ComposeDeployment.Containers().Single(c => c.Role == DeployRole.PurgeApi);
        var keys = purge.PurgeApiOptions().Keys;
        var key = Assert.Single(keys);
        Assert.Equal(ApiKeys.Hash(DevelopmentKey), key.Sha256);
        Assert.Equal(["*"], key.Hosts);
        Assert.Contains(DevelopmentKey, RepositoryFiles.Read("deploy/README.md"), StringComparison.Ordinal);
        Assert.Contains(DevelopmentKey, RepositoryFiles.Read(ComposeDeployment.File), StringComparison.Ordinal);
    }

    [Fact]
    public void Kubernetes_Services_and_disruption_budgets_select_pods_and_ports_that_exist()
    {
        var objects = KubernetesDeployment.Objects();
        var workloads = KubernetesDeployment.Workloads(objects).ToList();
        var problems = new List<string>();
        List<KubernetesObject> Selected(KubernetesObject o, JsonNode? selector) => [.. workloads.Where(w => w.Namespace == o.Namespace && selector.Members().Any()
            && selector.Members().All(l => w.Document.Path("spec", "template", "metadata", "labels", l.Key).Text() == l.Value.Text()))];

        foreach (var service in objects.Where(o => o.Kind == "Service"))
        {
            var selected = Selected(service, service.Document.Path("spec", "selector"));
            if (selected.Count == 0) problems.Add($"{service}: selects no workload");
            foreach (var port in service.Document.Path("spec").Items("ports"))
            {
                var target = port.Text("targetPort") ?? port.Text("port")!;
                foreach (var w in selected)
                {
                    var containers = w.Document.Path("spec", "template", "spec").Items("containers");
                    if (!containers.SelectMany(c => c.Items("ports")).Any(p => p.Text("name") == target || p.Text("containerPort") == target))
                    {
                        problems.Add($"{service}: port {port.Text("name")} targets {target}, which {w.Name}'s containers do not declare");
                    }
                }
            }
        }

        foreach (var budget in objects.Where(o => o.Kind == "PodDisruptionBudget"))
        {
            if (Selected(budget, budget.Document.Path("spec", "selector", "matchLabels")).Count == 0) problems.Add($"{budget}: selects no workload");
        }

        foreach (var set in workloads.Where(w => w.Kind == "StatefulSet"))
        {
            var name = set.Document.Path("spec", "serviceName").Text();
            if (KubernetesDeployment.Find(objects, "Service", set.Namespace, name ?? "") is not { } s || s.Document.Path("spec", "clusterIP").Text() != "None")
            {
                problems.Add($"{set}: serviceName '{name}' is not a headless Service, so its pods have no stable DNS names");
            }

            if (Selected(set, set.Document.Path("spec", "selector", "matchLabels")).All(w => w.Name != set.Name)) problems.Add($"{set}: its selector does not match its own pod template");
        }

        Assert.Contains(objects, o => o.Kind == "PodDisruptionBudget");
        AssertNone(problems, "Services and budgets that select nothing");
    }

    [Fact]
    public void Every_metric_and_label_a_Grafana_panel_queries_is_one_the_nodes_export()
    {
        var instruments = Instruments.InLibraries();
        foreach (var expected in new[] { "edgecache.requests", "edgecache.host.requests", "edgecache.memory.size", "edgecache.invalidation.lag", "edgecache.upstream.healthy" })
        {
            Assert.Contains(instruments, i => i.Name == expected);
        }

        var exported = instruments.Concat(Instruments.Platform).SelectMany(i => i.ExportedNames).ToHashSet(StringComparer.Ordinal);
        var tags = Instruments.TagLabels();
        Assert.Superset(new HashSet<string> { "edgecache_outcome", "edgecache_tier", "edgecache_host", "edgecache_hit", "cluster", "destination" }, tags.ToHashSet());
        var labels = tags.Concat(Instruments.PlatformLabels).ToHashSet(StringComparer.Ordinal);

        var dashboard = JsonNode.Parse(RepositoryFiles.Read("deploy/grafana/edgecache-dashboard.json"))!;
        var queries = new List<(string Where, string Expression, string? Legend)>();
        foreach (var panel in Panels(dashboard).Where(p => p.Text("type") != "row"))
        {
            var targets = panel.Items("targets").ToList();
            Assert.True(targets.Count > 0, $"panel '{panel.Text("title")}' has no query");
            queries.AddRange(targets.Select(t => ($"panel '{panel.Text("title")}'", t.Text("expr") ?? "", t.Text("legendFormat"))));
        }

        foreach (var variable in dashboard.Path("templating").Items("list").Where(v => v.Text("type") == "query"))
        {
            queries.Add(($"variable {variable.Text("name")}", variable?["query"] is JsonObject q ? q.Text("query") ?? "" : variable.Text("query") ?? "", null));
        }

        var problems = new List<string>();
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (where, expression, legend) in queries)
        {
            var (metrics, queried) = PromQl.Parse(expression);
            if (metrics.Count == 0) problems.Add($"{where}: no metric in '{expression}'");
            foreach (var metric in metrics)
            {
                used.Add(metric);
                if (exported.Contains(metric)) continue;
                var stripped = metric;
                foreach (var suffix in new[] { "_bucket", "_sum", "_count", "_total", "_bytes", "_seconds" })
                {
                    if (stripped.EndsWith(suffix, StringComparison.Ordinal)) stripped = stripped[..^suffix.Length];
                }

                var instrument = stripped.Replace('_', '.');
                problems.Add(instruments.Concat(Instruments.Platform).FirstOrDefault(i => i.Name == instrument) is { } near
                    ? $"{where}: {metric} is not exported; {near.Name} ({near.Kind}, unit {near.Unit ?? "none"}) is exported as {string.Join(" / ", near.ExportedNames)}"
                    : $"{where}: {metric} maps to no instrument ({instrument} is not created in libs/)");
            }

            foreach (var label in queried.Concat(legend is null ? [] : PromQl.LegendLabels(legend)).Where(l => !labels.Contains(l)))
            {
                problems.Add($"{where}: label {label} is neither a tag the code sets nor one Prometheus adds");
            }
        }

        foreach (var required in new[]
        {
            "edgecache_requests_total", "edgecache_host_response_size_bytes_total", "http_client_request_duration_seconds_bucket",
            "http_server_request_duration_seconds_bucket", "edgecache_memory_size_bytes", "edgecache_disk_log_size_bytes",
            "edgecache_memory_evictions_total", "edgecache_requests_collapsed_total", "edgecache_invalidation_events_total",
            "edgecache_invalidation_lag_seconds_bucket", "edgecache_invalidation_sequence", "edgecache_nats_connected",
            "edgecache_upstream_healthy", "edgecache_host_requests_total",
        })
        {
            if (!used.Contains(required)) problems.Add($"no panel shows {required}");
        }

        AssertNone(problems, "dashboard queries that do not match the exported metrics");
    }

    [Fact]
    public void Grafana_in_compose_is_provisioned_with_Prometheus_and_the_dashboard()
    {
        const string Dashboard = "deploy/grafana/edgecache-dashboard.json";
        var problems = new List<string>();
        var services = ComposeDeployment.Document()["services"];
        var grafana = services?["grafana"];
        Assert.NotNull(grafana);
        var mounts = ComposeDeployment.BindMounts(grafana).ToList();

        // Provisioning folders mounted where Grafana reads them.
        var datasourceMount = mounts.FirstOrDefault(m => m.Target == "/etc/grafana/provisioning/datasources");
        var providerMount = mounts.FirstOrDefault(m => m.Target == "/etc/grafana/provisioning/dashboards");
        Assert.True(datasourceMount.Source is not null && providerMount.Source is not null, "grafana must mount provisioning/datasources and provisioning/dashboards");
        var datasourceUids = new HashSet<string>(StringComparer.Ordinal) { "${DS_PROMETHEUS}" };
        foreach (var file in RepositoryFiles.Deploy(".yaml", ".yml").Where(f => f.StartsWith(datasourceMount.Source + "/", StringComparison.Ordinal)))
        {
            foreach (var ds in YamlTree.LoadSingle(file).Items("datasources").Where(d => d.Text("type") == "prometheus"))
            {
                if (ds.Text("uid") is { } uid) datasourceUids.Add(uid);
                var url = new Uri(ds.Text("url")!);
                var prometheus = services?[url.Host];
                if (prometheus is null) problems.Add($"{file}: datasource url {url} names no compose service");
                else if (prometheus.Text("image")?.StartsWith("prom/prometheus", StringComparison.Ordinal) != true || url.Port != 9090) problems.Add($"{file}: datasource url {url} is not Prometheus on 9090");
            }
        }

        Assert.True(datasourceUids.Count > 1, "no Prometheus datasource is provisioned");
        var dashboardMount = mounts.FirstOrDefault(m => m.Source == Dashboard);
        Assert.True(dashboardMount.Target is not null, $"grafana does not mount {Dashboard}");
        var providers = RepositoryFiles.Deploy(".yaml", ".yml").Where(f => f.StartsWith(providerMount.Source + "/", StringComparison.Ordinal))
            .SelectMany(f => YamlTree.LoadSingle(f).Items("providers")).ToList();
        if (!providers.Any(p => p.Text("type") == "file" && dashboardMount.Target.StartsWith(p.Path("options", "path").Text()?.TrimEnd('/') + "/", StringComparison.Ordinal)))
        {
            problems.Add($"no file dashboard provider reads {dashboardMount.Target}, where the dashboard is mounted");
        }

        if (grafana.Path("environment", "GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH").Text() is { } home && home != dashboardMount.Target)
        {
            problems.Add($"GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH {home} is not the mounted dashboard");
        }

        // The dashboard: Grafana 11 schema, a Prometheus datasource variable, panels on it.
        var dashboard = JsonNode.Parse(RepositoryFiles.Read(Dashboard))!;
        if (!int.TryParse(dashboard.Text("schemaVersion"), System.Globalization.CultureInfo.InvariantCulture, out var schema) || schema < 39) problems.Add($"schemaVersion {dashboard.Text("schemaVersion")} predates Grafana 11 (39)");
        if (!dashboard.Path("templating").Items("list").Any(v => v.Text("name") == "DS_PROMETHEUS" && v.Text("type") == "datasource" && v.Text("query") == "prometheus"))
        {
            problems.Add("no DS_PROMETHEUS datasource variable");
        }

        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var panel in Panels(dashboard))
        {
            if (!ids.Add(panel.Text("id") ?? "")) problems.Add($"panel id {panel.Text("id")} is used twice");
            if (panel.Text("type") == "row") continue;
            foreach (var ds in new[] { panel["datasource"] }.Concat(panel.Items("targets").Select(t => t?["datasource"])))
            {
                if (ds.Text("uid") is not { } uid || !datasourceUids.Contains(uid)) problems.Add($"panel '{panel.Text("title")}' uses datasource {ds?.ToJsonString()}, which is neither ${{DS_PROMETHEUS}} nor provisioned");
            }
        }

        AssertNone(problems, "Grafana provisioning that would not show the dashboard");
    }

    private static IEnumerable<JsonNode> Panels(JsonNode dashboard) =>
        dashboard.Items("panels").SelectMany(p => new[] { p! }.Concat(p.Items("panels").Select(x => x!)));

    private static bool BindsEveryInterface(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri) && IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip) && (ip.Equals(IPAddress.Any) || ip.Equals(IPAddress.IPv6Any));

    /// <summary>
    /// Starts, once per platform and kind, a real node or purge API from a container's own
    /// configuration (listening on loopback port 0, the disk tier off, NATS pointed at a closed port,
    /// a placeholder key hash replaced) and answers what it serves at a path.
    /// </summary>
    private sealed class ServedPaths : IAsyncDisposable
    {
        private readonly Dictionary<(string, DeployRole), (WebApplication App, Uri Uri)> _started = [];
        private readonly HttpClient _client = new() { Timeout = TimeSpan.FromSeconds(10) };

        public async Task<HttpStatusCode> GetAsync(DeployedContainer container, string path)
        {
            var key = (container.Platform, container.Role);
            if (!_started.TryGetValue(key, out var node)) _started[key] = node = await StartAsync(container);
            using var response = await _client.GetAsync(new Uri(node.Uri, path));
            return response.StatusCode;
        }

        private static async Task<(WebApplication, Uri)> StartAsync(DeployedContainer container)
        {
            var settings = container.Configuration().AsEnumerable().Where(kv => kv.Value is not null)
                .ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.OrdinalIgnoreCase);
            const string Closed = "nats://127.0.0.1:1";
            WebApplication app;
            if (container.Role == DeployRole.PurgeApi)
            {
                settings["PurgeApi:Listen"] = "http://127.0.0.1:0";
                settings["PurgeApi:Nats:NatsUrl"] = Closed;
                foreach (var k in settings.Keys.Where(k => k.EndsWith(":Sha256", StringComparison.OrdinalIgnoreCase) && settings[k] == KeyPlaceholder).ToList()) settings[k] = ApiKeys.Hash("test");
                app = PurgeApiHost.Build([], b => Use(b, settings));
                await app.StartAsync();
                return (app, new Uri(app.Urls.First()));
            }

            foreach (var k in settings.Keys.Where(k => k.StartsWith("EdgeCache:Listen:", StringComparison.OrdinalIgnoreCase)).ToList()) settings.Remove(k);
            settings["EdgeCache:Listen:Traffic:0"] = "http://127.0.0.1:0";
            settings["EdgeCache:Listen:Admin"] = "http://127.0.0.1:0";
            settings["EdgeCache:Disk:Directory"] = "";
            settings["EdgeCache:ShutdownTimeout"] = "00:00:01";
            if (settings.ContainsKey("EdgeCache:Invalidation:NatsUrl")) settings["EdgeCache:Invalidation:NatsUrl"] = Closed;
            app = EdgeCacheNode.Build(container.Role == DeployRole.Shield ? NodeRole.Shield : NodeRole.Edge, [], b => Use(b, settings));
            await app.StartAsync();
            var admin = app.Services.GetRequiredService<NodeEndpoints>().AdminUri!;

            // The admin endpoint answers 404 to what it does not serve, so "not 404" means served.
            using var client = new HttpClient();
            using var unknown = await client.GetAsync(new Uri(admin, "/no-such-admin-path"));
            Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
            return (app, admin);
        }

        private static void Use(WebApplicationBuilder builder, Dictionary<string, string?> settings)
        {
            builder.Configuration.Sources.Clear();
            builder.Configuration.AddInMemoryCollection(settings);
            builder.Logging.ClearProviders();
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var (app, _) in _started.Values)
            {
                await app.StopAsync();
                await app.DisposeAsync();
            }

            _client.Dispose();
        }
    }
}
