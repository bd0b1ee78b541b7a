using BenchmarkDotNet.Running;
using EdgeCache.Benchmarks;

// dotnet run -c Release --project loadtest/EdgeCache.Benchmarks -- --filter '*'            (full runs)
// dotnet run -c Release --project loadtest/EdgeCache.Benchmarks -- --filter '*' --job short (quick look)
BenchmarkSwitcher.FromAssembly(typeof(HitPathBenchmarks).Assembly).Run(args);
