// placeholder until the domain lands
export default { title: 'pharmacy', defaultAccount: 'pharmacy', async render(root) { root.textContent = 'not yet'; } };
