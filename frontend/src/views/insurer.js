// placeholder until the domain lands
export default { title: 'insurer', defaultAccount: 'insurer', async render(root) { root.textContent = 'not yet'; } };
